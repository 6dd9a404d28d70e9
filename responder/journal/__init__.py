"""The durable journal: every acknowledged event is in SQLite (WAL, fsync per group commit)."""

from responder.journal._journal import JOURNAL_FILE, Journal
from responder.journal._reader import EventQuery, EventRow, JournalReader, Unreadable, read_event
from responder.journal._schema import SCHEMA_VERSION, connect
from responder.journal._writer import Accepted, JournalWriter

__all__ = [
    "JOURNAL_FILE",
    "SCHEMA_VERSION",
    "Accepted",
    "EventQuery",
    "EventRow",
    "Journal",
    "JournalReader",
    "JournalWriter",
    "Unreadable",
    "connect",
    "read_event",
]
