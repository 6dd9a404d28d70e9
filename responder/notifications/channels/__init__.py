"""Notification channels: each kind's settings (named in the configuration) beside its sender."""

from responder.notifications.channels._base import Delivery, DeliveryDeferredError, Notifier
from responder.notifications.channels._fields import ChannelName, HttpUrlText, check_http_url
from responder.notifications.channels._kinds import (
    CHANNEL_KINDS,
    Channel,
    EmailChannel,
    LogChannel,
    PagerDutyChannel,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
)
from responder.notifications.channels._message import Message, MessageKind, MessageStep
from responder.notifications.channels._registry import (
    NOTIFIER_KINDS,
    build_notifiers,
    channel_models,
)

__all__ = [
    "CHANNEL_KINDS",
    "NOTIFIER_KINDS",
    "Channel",
    "ChannelName",
    "Delivery",
    "DeliveryDeferredError",
    "EmailChannel",
    "HttpUrlText",
    "LogChannel",
    "Message",
    "MessageKind",
    "MessageStep",
    "Notifier",
    "PagerDutyChannel",
    "SlackChannel",
    "TeamsChannel",
    "WebhookChannel",
    "build_notifiers",
    "channel_models",
    "check_http_url",
]
