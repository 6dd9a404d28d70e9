"""The `log` channel: the message goes to the responder's own log, under `responder.notify`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar, Literal

from responder.notifications.channels._base import Notifier
from responder.notifications.channels._channel import ChannelSettings
from responder.notifications.channels._describe import describe_channel

if TYPE_CHECKING:
    import aiohttp

    from responder.notifications.channels._base import Delivery
    from responder.notifications.channels._message import Message

__all__ = ["LogChannel", "LogNotifier"]


class LogChannel(ChannelSettings):
    """Messages go to the responder's own log.

    The embedded default: until channels are configured, `oncall` is a log channel, so the
    shipped playbooks load with no configuration at all.
    """

    kind: Literal["log"] = "log"


LOGGER = "responder.notify"
log = logging.getLogger(LOGGER)


class LogNotifier(Notifier[LogChannel]):
    r"""Write the title and text at WARNING: visible with the default log level, never lost.

    One record per line of the text, each naming the channel and the delivery: a log record is
    one line (the service's formatter shows any line break inside one as `\n`), and so each
    line of the message stays readable and plainly a part of this one.
    """

    kind: ClassVar[str] = "log"

    async def send(
        self, message: Message, delivery: Delivery, session: aiohttp.ClientSession
    ) -> str:
        """Log the message; it cannot fail, so it is never retried."""
        del session
        log.warning("%s (%s, %s): %s", self.name, delivery.key, message.kind, message.title)
        for line in message.text.splitlines():
            if line.strip():
                log.warning("%s (%s) | %s", self.name, delivery.key, line)
        return "logged"

    def describe(self) -> dict[str, str]:
        """The logger name and the common settings."""
        return {"logger": LOGGER} | describe_channel(self.channel, self._environ)
