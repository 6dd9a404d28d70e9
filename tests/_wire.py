"""What each channel kind sends for a message, and the lines a person reads in it.

The hostile-text tests build a message from hostile alert text and check, for every channel
kind, what reaches a person: no line forged, no link but ours, no markup.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import threading
from html import unescape
from typing import TYPE_CHECKING, Any, cast

from responder.cli.logs import FORMAT, OneLineFormatter
from responder.notifications.channels import (
    Delivery,
    EmailChannel,
    LogChannel,
    PagerDutyChannel,
    SlackChannel,
)
from responder.notifications.channels.email import build_mail
from responder.notifications.channels.log import LOGGER, LogNotifier
from responder.notifications.channels.pagerduty import pagerduty_event
from responder.notifications.channels.slack import slack_payload
from responder.notifications.channels.teams import teams_payload
from responder.secrets import SecretRef

if TYPE_CHECKING:
    import aiohttp

    from responder.notifications.channels import Message

__all__ = ["DELIVERY", "KINDS", "log_lines", "shown_lines", "strings", "wire"]

KINDS = ("webhook", "slack", "teams", "pagerduty", "email", "log")
DELIVERY = Delivery(id=5, attempt=1, incident_id="01JQ8ZK3V5T7W9X1Y2Z3A4B5C6")
_SLACK_LINK = re.compile(r"<([^|<>]+)\|[^<>]+>")
_MAIL = EmailChannel(host="mail.example", sender="r@mail.example", recipients=("o@mail.example",))


def strings(value: Any) -> list[str]:
    """Every string in a JSON-like value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (*strings(key), *strings(item))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in strings(item)]
    return []


def wire(kind: str, message: Message) -> Any:
    """What the channel kind sends: the JSON body, the mail as text, or the log's lines."""
    if kind == "webhook":
        return {"version": 1, "message": message.model_dump(mode="json")}
    if kind == "slack":
        return slack_payload(message, SlackChannel(webhook_url=SecretRef(env="X")))
    if kind == "teams":
        return teams_payload(message)
    if kind == "pagerduty":
        return pagerduty_event(message, PagerDutyChannel(routing_key=SecretRef(env="X")), "key")
    if kind == "email":
        mail = build_mail(message, DELIVERY, _MAIL)
        return {"headers": dict(mail.items()), "body": mail.get_content()}
    return log_lines(message)


def shown_lines(kind: str, message: Message) -> list[str]:
    """The lines a person reads in what the channel kind sends.

    Each text split at its line breaks, Slack's entities decoded, a Teams RichTextBlock's runs
    joined, a log record without its timestamp and channel prefix.
    """
    payload = wire(kind, message)
    if kind == "teams":
        card = payload["attachments"][0]["content"]
        lines = ["".join(run["text"] for run in block["inlines"]) for block in card["body"]]
        return lines + strings(card.get("actions", []))
    if kind == "log":
        return [line.split(": ", 1)[1].split(") | ", 1)[-1] for line in payload]
    texts = strings(payload)
    if kind == "slack":  # a mrkdwn link `<url|text>` shows as its text, and links to its url
        texts = [unescape(_SLACK_LINK.sub(r"\1", text)) for text in texts]
    return [line for text in texts for line in text.splitlines()]


def log_lines(message: Message) -> list[str]:
    """The service log's lines for the message on a `log` channel, formatted as `serve` does.

    Only this call's records: one that another thread logs meanwhile (a server a test before
    left running) is not the message's.
    """
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter(FORMAT))
    this_thread = threading.get_ident()
    handler.addFilter(lambda record: record.thread == this_thread)
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    try:
        notifier = LogNotifier("oncall", LogChannel())
        session = cast("aiohttp.ClientSession", None)  # the log channel never uses it
        asyncio.run(notifier.send(message, DELIVERY, session))
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines, f"the {LOGGER} logger wrote nothing: disabled or above WARNING?"
    return lines
