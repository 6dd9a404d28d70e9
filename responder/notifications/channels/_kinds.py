"""The channel kinds: the one union the settings validate `channels.NAME` against."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from responder.notifications.channels.email import EmailChannel
from responder.notifications.channels.log import LogChannel
from responder.notifications.channels.pagerduty import PagerDutyChannel
from responder.notifications.channels.slack import SlackChannel
from responder.notifications.channels.teams import TeamsChannel
from responder.notifications.channels.webhook import WebhookChannel

__all__ = [
    "CHANNEL_KINDS",
    "Channel",
    "EmailChannel",
    "LogChannel",
    "PagerDutyChannel",
    "SlackChannel",
    "TeamsChannel",
    "WebhookChannel",
]

CHANNEL_KINDS = ("log", "webhook", "slack", "teams", "pagerduty", "email")

Channel = Annotated[
    LogChannel | WebhookChannel | SlackChannel | TeamsChannel | PagerDutyChannel | EmailChannel,
    Field(discriminator="kind"),
]
