"""The outbox: notifications queued durably and delivered with retries, in order per channel."""

from responder.outbox._model import OutboxRecord, OutboxState
from responder.outbox._service import Deliverer, Outbox
from responder.outbox._store import OUTBOX_FILE, ChannelStats, NewMessage, OutboxStore

__all__ = [
    "OUTBOX_FILE",
    "ChannelStats",
    "Deliverer",
    "NewMessage",
    "Outbox",
    "OutboxRecord",
    "OutboxState",
    "OutboxStore",
]
