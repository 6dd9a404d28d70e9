"""Notifiers: one plugin per channel kind, delivering queued messages from the outbox."""

from responder.notifiers._base import Delivery, DeliveryDeferredError, Notifier
from responder.notifiers._message import Message, MessageKind, MessageStep
from responder.notifiers._registry import NOTIFIER_KINDS, build_notifiers, channel_models

__all__ = [
    "NOTIFIER_KINDS",
    "Delivery",
    "DeliveryDeferredError",
    "Message",
    "MessageKind",
    "MessageStep",
    "Notifier",
    "build_notifiers",
    "channel_models",
]
