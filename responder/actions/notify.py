"""The `notify` action: tell the named channels about the incident."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from responder.actions._base import Action, ActionParams
from responder.actions._results import StepOutcome

if TYPE_CHECKING:
    from responder.actions._results import ActionContext
    from responder.containers import ContainerInfo

log = logging.getLogger("responder.notify")

__all__ = ["Notify"]


class NotifyParams(ActionParams):
    """Where to send, and optionally what to say (a template; the channel's default otherwise)."""

    channels: list[str] = Field(min_length=1, description="channel names from the configuration")
    message: str | None = Field(default=None, description="message template; default per channel")


class Notify(Action):
    """Notify on-call."""

    name: ClassVar[str] = "notify"
    summary: ClassVar[str] = "send the incident to notification channels through the outbox"
    undo: ClassVar[str] = "nothing; release sends its own notice"
    changes_container: ClassVar[bool] = False
    needs_container: ClassVar[bool] = False
    params: ClassVar[type[ActionParams]] = NotifyParams

    def describe(self, params: NotifyParams, target: str | None) -> str:
        """One line."""
        del target
        return f"notify {', '.join(params.channels)}"

    async def run(
        self, ctx: ActionContext, params: NotifyParams, container: ContainerInfo | None
    ) -> StepOutcome:
        """Write the message to the responder's log under `responder.notify`.

        Delivery to webhook, Slack, Teams, PagerDuty and email channels, through the persistent
        outbox, comes with the notifiers; until then every channel gets the log line.
        """
        del container
        message = params.message or ctx.summary or f"incident {ctx.incident_id}"
        prefix = "[dry-run] " if ctx.dry_run else ""
        for channel in params.channels:
            log.warning("%sincident %s -> %s: %s", prefix, ctx.incident_id, channel, message)
        return StepOutcome(
            status="done",
            detail=f"logged for {', '.join(params.channels)}: {message}",
            data={"message": message, "channels": list(params.channels)},
        )
