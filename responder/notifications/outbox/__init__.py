"""The outbox: notifications queued durably and delivered with retries, in order per channel."""

from responder.notifications.outbox._model import OutboxRecord, OutboxState
from responder.notifications.outbox._service import Deliverer, Outbox
from responder.notifications.outbox._settings import NotificationSettings
from responder.notifications.outbox._store import OUTBOX_FILE, ChannelStats, NewMessage, OutboxStore

__all__ = [
    "OUTBOX_FILE",
    "ChannelStats",
    "Deliverer",
    "NewMessage",
    "NotificationSettings",
    "Outbox",
    "OutboxRecord",
    "OutboxState",
    "OutboxStore",
]
