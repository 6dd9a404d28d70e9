"""The `slack` channel: a Slack incoming webhook, with the facts as Block Kit fields.

Everything that holds alert text is a `plain_text` object, which Slack shows as written: no
mrkdwn (`*bold*`, `_it_`, `~s~`, backticks, `> quote`), no `<url|text>` links, no `<!channel>`
or `@here` mentions. The only mrkdwn in the payload is our own link to the report.
"""

from __future__ import annotations

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

__all__ = ["SlackChannel", "SlackNotifier", "escape", "slack_payload"]


class SlackChannel(ChannelSettings):
    """A Slack incoming webhook; its URL is a credential, so it is given by reference."""

    kind: Literal["slack"] = "slack"
    webhook_url: SecretRef = Field(description="the incoming webhook URL, by reference")
    channel: str | None = Field(default=None, description="override the webhook's channel")
    username: str | None = Field(default=None, description="override the webhook's name")


# Block Kit limits (https://api.slack.com/reference/block-kit/blocks): past them Slack
# answers `invalid_blocks` and the whole message is lost.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_FIELDS = 10
_LONGEST_ENTITY = len("&amp;")


def escape(text: str) -> str:
    """Slack's three control characters as entities, so event text cannot ping or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Escaped `text` cut to `limit` characters with an ellipsis, never in the middle of an entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&", len(cut) - (_LONGEST_ENTITY - 1))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def clip_lines(text: str, limit: int) -> str:
    """Escaped `text` cut after its last whole line that fits, with an ellipsis.

    No line of ours (`Undo: ...`) is shown cut short; a first line longer than `limit` is cut
    as `clip` cuts it.
    """
    if len(text) <= limit:
        return text
    end = text.rfind("\n", 0, limit - 1)
    return clip(text, limit) if end <= 0 else text[: end + 1] + "…"


def plain(text: str, limit: int) -> dict[str, Any]:
    """A `plain_text` object: escaped, cut to `limit`, emoji codes (`:x:`) left as written."""
    return {"type": "plain_text", "text": clip_lines(escape(text), limit), "emoji": False}


def _report_field(report: str) -> dict[str, Any]:
    """The report as a fact: a link when it is a URL (ours, never the alert's), else its path."""
    if not report.startswith(("https://", "http://")):
        return plain(f"Report: {report}", FIELD_LIMIT)
    # `|` would end the URL inside `<...>`; it never occurs in ours unencoded.
    url = escape(report.replace("|", "%7C"))
    return {"type": "mrkdwn", "text": f"*Report*\n<{url}|{url}>", "verbatim": True}


def slack_payload(message: Message, channel: SlackChannel) -> dict[str, Any]:
    """The incoming-webhook body: the title as fallback `text`, and header, text, facts blocks."""
    title = message.title or f"incident {message.incident_id}"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(title, HEADER_LIMIT)}]
    if message.text.strip():  # a section's text cannot be empty
        blocks.append({"type": "section", "text": plain(message.text, SECTION_LIMIT)})
    fields = [
        _report_field(value) if label == "Report" else plain(f"{label}: {value}", FIELD_LIMIT)
        for label, value in message.facts()[:MAX_FIELDS]
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    # The fallback text (notifications, old clients) is read as mrkdwn unless told otherwise.
    payload: dict[str, Any] = {"text": escape(title), "mrkdwn": False, "blocks": blocks}
    if channel.channel is not None:
        payload["channel"] = channel.channel
    if channel.username is not None:
        payload["username"] = channel.username
    return payload


class SlackNotifier(Notifier[SlackChannel]):
    """POST to a Slack incoming webhook; Slack answers 200 `ok`, or 4xx with a reason."""

    kind: ClassVar[str] = "slack"

    async def send(
        self, message: Message, delivery: Delivery, session: aiohttp.ClientSession
    ) -> str:
        """POST one message; Slack's reason (`invalid_payload`, `channel_is_archived`) is kept."""
        del delivery  # incoming webhooks have no idempotency key
        url = secret_url(self.channel.webhook_url, self._environ)
        body = json_body(slack_payload(message, self.channel))
        timeout = self.channel.timeout.total_seconds()
        return await post_json(session, url, body, {}, timeout, display=self.name, secrets=[url])

    def describe(self) -> dict[str, str]:
        """Every setting; the webhook URL by reference."""
        return describe_channel(self.channel, self._environ)
