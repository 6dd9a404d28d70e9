"""The `teams` channel: an Adaptive Card to a Microsoft Teams webhook or Workflows URL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from responder.channels import TeamsChannel
from responder.notifiers._base import Notifier
from responder.notifiers._describe import describe_channel
from responder.notifiers._http import json_body, post_json, secret_url

if TYPE_CHECKING:
    import aiohttp

    from responder.notifiers._base import Delivery
    from responder.notifiers._message import Message

__all__ = ["TeamsNotifier", "teams_payload"]


def teams_payload(message: Message) -> dict[str, Any]:
    """A message with one Adaptive Card 1.4: title, text, and the facts as a FactSet.

    Both the classic incoming webhooks and the Workflows "post to a channel when a webhook
    request is received" template accept this shape.
    """
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": message.title,
            "weight": "bolder",
            "size": "medium",
            "wrap": True,
        }
    ]
    if message.text.strip():
        body.append({"type": "TextBlock", "text": message.text, "wrap": True})
    body.append(
        {
            "type": "FactSet",
            "facts": [{"title": label, "value": value} for label, value in message.facts()],
        }
    )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
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
