"""The `teams` channel: an Adaptive Card to a Microsoft Teams webhook or Workflows URL.

Teams renders Markdown in a TextBlock and in FactSet titles and values (`[text](url)` becomes a
link there), so alert text goes only into TextRuns of RichTextBlocks (Adaptive Cards 1.2), which
show their text as written. The report's URL, ours, is the card's one action.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from responder.notifications.channels._base import Notifier
from responder.notifications.channels._channel import ChannelSettings
from responder.notifications.channels._describe import describe_channel
from responder.notifications.channels._http import json_body, post_json, secret_url
from responder.secrets import SecretRef

if TYPE_CHECKING:
    import aiohttp

    from responder.notifications.channels._base import Delivery
    from responder.notifications.channels._message import Message

__all__ = ["TeamsChannel", "TeamsNotifier", "teams_payload"]


class TeamsChannel(ChannelSettings):
    """A Microsoft Teams incoming webhook (or Workflows URL), given by reference."""

    kind: Literal["teams"] = "teams"
    webhook_url: SecretRef = Field(description="the webhook URL, by reference")


# A TextRun still replaces `{{DATE(...)}}` and `{{TIME(...)}}` with a local date; a space after
# the braces (the function allows none) leaves the text as written.
_DATE_FUNCTION = re.compile(r"\{\{(?=(?:DATE|TIME)\()")


def _run(text: str, **style: str) -> dict[str, Any]:
    return {"type": "TextRun", "text": _DATE_FUNCTION.sub("{{ ", text), **style}


def _line(*inlines: dict[str, Any], spacing: str = "none") -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": list(inlines), "spacing": spacing}


def _text_lines(text: str) -> list[dict[str, Any]]:
    """One block per line of the text (renderers differ on a line break inside a TextRun).

    A blank line becomes space before the next block.
    """
    blocks: list[dict[str, Any]] = []
    spacing = "medium"
    for line in text.splitlines():
        if not line.strip():
            spacing = "medium"
            continue
        blocks.append(_line(_run(line), spacing=spacing))
        spacing = "none"
    return blocks


def teams_payload(message: Message) -> dict[str, Any]:
    """A message with one Adaptive Card 1.4: title, text, the facts, and a link to the report.

    Both the classic incoming webhooks and the Workflows "post to a channel when a webhook
    request is received" template accept this shape.
    """
    body = [
        _line(_run(message.title, weight="bolder", size="medium"), spacing="default"),
        *_text_lines(message.text),
    ]
    facts = [
        _line(_run(f"{label}: ", weight="bolder"), _run(value)) for label, value in message.facts()
    ]
    if facts:
        facts[0]["spacing"] = "medium"
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body + facts,
    }
    if message.report and message.report.startswith(("https://", "http://")):
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open the incident report", "url": message.report}
        ]
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }
    return {"type": "message", "attachments": [attachment]}


class TeamsNotifier(Notifier[TeamsChannel]):
    """POST an Adaptive Card; webhooks answer 200, Workflows 202."""

    kind: ClassVar[str] = "teams"

    async def send(
        self, message: Message, delivery: Delivery, session: aiohttp.ClientSession
    ) -> str:
        """POST one message."""
        del delivery  # Teams webhooks have no idempotency key
        url = secret_url(self.channel.webhook_url, self._environ)
        body = json_body(teams_payload(message))
        timeout = self.channel.timeout.total_seconds()
        return await post_json(session, url, body, {}, timeout, display=self.name, secrets=[url])

    def describe(self) -> dict[str, str]:
        """Every setting; the webhook URL by reference."""
        return describe_channel(self.channel, self._environ)
