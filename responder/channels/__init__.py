"""Notification channels, configured once by name and named by the `notify` step of playbooks."""

from responder.channels._fields import ChannelName, HttpUrlText, check_http_url
from responder.channels._kinds import (
    CHANNEL_KINDS,
    Channel,
    EmailChannel,
    LogChannel,
    PagerDutyChannel,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
)

__all__ = [
    "CHANNEL_KINDS",
    "Channel",
    "ChannelName",
    "EmailChannel",
    "HttpUrlText",
    "LogChannel",
    "PagerDutyChannel",
    "SlackChannel",
    "TeamsChannel",
    "WebhookChannel",
    "check_http_url",
]
