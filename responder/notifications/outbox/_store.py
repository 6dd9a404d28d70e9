"""The outbox: notifications queued in SQLite, delivered in order per channel, kept after delivery."""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

from responder.incidents import now
from responder.notifications.channels import Message
from responder.notifications.outbox._model import OutboxRecord

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = ["OUTBOX_FILE", "ChannelStats", "NewMessage", "OutboxStore", "due_in"]

OUTBOX_FILE = "outbox.sqlite3"
_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key       TEXT NOT NULL UNIQUE,
    incident_id     TEXT NOT NULL,
    channel         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    message         TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT,
    detail          TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (channel, state, id);
CREATE INDEX IF NOT EXISTS outbox_incident ON outbox (incident_id, id);
"""
_COLUMNS = (
    "id, incident_id, channel, kind, message, state, attempts, last_error, detail, "
    "created_at, sent_at, next_attempt_at"
)


class NewMessage(NamedTuple):
    """One message to queue for one channel."""

    key: str
    """Unique per message: queuing the same key twice queues it once."""
    incident_id: str
    channel: str
    kind: str
    message: Message


class ChannelStats(TypedDict):
    """What is waiting for one channel and whether it is failing."""

    pending: int
    failing: int
    """Pending messages that have failed at least once."""
    failed: int
    """Messages given up."""
    oldest_pending: str | None
    last_error: str | None


class OutboxStore:
    """One connection, used from one thread at a time; several processes may share the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("PRAGMA busy_timeout = 10000")
        (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        if version > _VERSION:
            raise sqlite3.DatabaseError(f"outbox version {version} is newer than this responder")
        if version < _VERSION:
            # Only a new or older file is written here: a command reading the store while the
            # server holds a write transaction must not wait on a lock to change nothing.
            self._conn.executescript(_SCHEMA)
            self._conn.execute(f"PRAGMA user_version = {_VERSION}")

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def enqueue(self, messages: Iterable[NewMessage]) -> list[int]:
        """Queue messages in one transaction; a dedup key seen before is not queued twice.

        Returns the row id of each message, new or already queued: a notify step resumed after a
        crash finds its messages queued and does not send them again.
        """
        ids = []
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for key, incident_id, channel, kind, message in messages:
                self._conn.execute(
                    "INSERT OR IGNORE INTO outbox (dedup_key, incident_id, channel, kind, "
                    "message, state, next_attempt_at, created_at) "
                    "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                    (key, incident_id, channel, kind, message.model_dump_json(), 0.0, now()),
                )
                (row_id,) = self._conn.execute(
                    "SELECT id FROM outbox WHERE dedup_key = ?", (key,)
                ).fetchone()
                ids.append(int(row_id))
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return ids

    def head(self, channel: str) -> OutboxRecord | None:
        """The oldest pending message of a channel: messages go out one at a time, in order."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE channel = ? AND state = 'pending' "  # noqa: S608 - our own column names
            "ORDER BY id LIMIT 1",
            (channel,),
        ).fetchone()
        return _record(row) if row else None

    def sent(self, row_id: int, attempts: int, detail: str) -> None:
        """The far end accepted it."""
        self._conn.execute(
            "UPDATE outbox SET state = 'sent', attempts = ?, detail = ?, sent_at = ? WHERE id = ?",
            (attempts, detail, now(), row_id),
        )

    def retry(self, row_id: int, attempts: int, error: str, at: float) -> None:
        """It failed for now: try again at `at` (Unix time)."""
        self._conn.execute(
            "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
            (attempts, error, at, row_id),
        )

    def failed(self, row_id: int, attempts: int, error: str) -> None:
        """Given up: it stays in the outbox, visible in the incident and the metrics."""
        self._conn.execute(
            "UPDATE outbox SET state = 'failed', attempts = ?, last_error = ? WHERE id = ?",
            (attempts, error, row_id),
        )

    def abandon_channels(self, configured: set[str]) -> list[OutboxRecord]:
        """Fail pending messages for channels no longer configured; returns them."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE state = 'pending'"  # noqa: S608 - our own column names
        ).fetchall()
        gone = [r for r in map(_record, rows) if r.channel not in configured]
        for record in gone:
            self.failed(
                record.id, record.attempts, f"channel {record.channel!r} is no longer configured"
            )
        return gone

    def for_incident(self, incident_id: str) -> list[OutboxRecord]:
        """Every message queued for one incident, oldest first."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE incident_id = ? ORDER BY id",  # noqa: S608 - our own column names
            (incident_id,),
        ).fetchall()
        return [_record(row) for row in rows]

    def stats(self) -> dict[str, ChannelStats]:
        """Per channel: what is waiting, what keeps failing, what was given up."""
        found: dict[str, ChannelStats] = {}
        for channel, state, count, failing, oldest in self._conn.execute(
            "SELECT channel, state, count(*), sum(attempts > 0), min(created_at) "
            "FROM outbox WHERE state != 'sent' GROUP BY channel, state"
        ):
            stats = found.setdefault(
                channel,
                ChannelStats(pending=0, failing=0, failed=0, oldest_pending=None, last_error=None),
            )
            if state == "pending":
                stats["pending"] = count
                stats["failing"] = int(failing or 0)
                stats["oldest_pending"] = oldest
            else:
                stats["failed"] = count
        for channel, stats in found.items():
            row = self._conn.execute(
                "SELECT last_error FROM outbox WHERE channel = ? AND last_error IS NOT NULL "
                "AND state != 'sent' ORDER BY id DESC LIMIT 1",
                (channel,),
            ).fetchone()
            stats["last_error"] = row[0] if row else None
        return found


def _record(row: tuple[Any, ...]) -> OutboxRecord:
    names = [name.strip() for name in _COLUMNS.split(",")]
    values = dict(zip(names, row, strict=True))
    values["message"] = Message.model_validate_json(values["message"])
    return OutboxRecord.model_validate(values)


def due_in(record: OutboxRecord) -> float:
    """Seconds until this message may be tried again (0 when it is due)."""
    return max(0.0, record.next_attempt_at - time.time())
