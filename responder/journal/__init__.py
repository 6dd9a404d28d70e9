"""Events and the durable journal: every acknowledged event is in SQLite (WAL, fsync per commit)."""

from responder.journal._event import (
    Event,
    Priority,
    PriorityName,
    Source,
    Status,
    Target,
    coerce_priority,
    new_event_id,
)
from responder.journal._journal import JOURNAL_FILE, Journal
from responder.journal._reader import EventQuery, EventRow, JournalReader, Unreadable, read_event
from responder.journal._schema import SCHEMA_VERSION, connect
from responder.journal._writer import Accepted, JournalWriter

__all__ = [
    "JOURNAL_FILE",
    "SCHEMA_VERSION",
    "Accepted",
    "Event",
    "EventQuery",
    "EventRow",
    "Journal",
    "JournalReader",
    "JournalWriter",
    "Priority",
    "PriorityName",
    "Source",
    "Status",
    "Target",
    "Unreadable",
    "coerce_priority",
    "connect",
    "new_event_id",
    "read_event",
]
