"""The audit trail's head (last seq and hash), kept in the incident store, apart from the file.

The audit file's writer only appends to the file; lines cut off its end, or a file emptied,
leave a chain that verifies. The head committed here with each append is what says how long
the chain must be (`responder audit verify`), and what a new writer compares the file with.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from responder.incidents._schema import upgrade

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["AuditAnchor", "read_head"]

log = logging.getLogger(__name__)

_SAVE = (
    "INSERT INTO audit_head (id, seq, hash, at) VALUES (1, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, at = excluded.at "
    "WHERE excluded.seq > audit_head.seq"
)


def read_head(conn: sqlite3.Connection) -> tuple[int, str] | None:
    """The recorded head (seq, hash), or None before the first line."""
    row = conn.execute("SELECT seq, hash FROM audit_head").fetchone()
    return (int(row[0]), str(row[1])) if row else None


class AuditAnchor:
    """Reads and moves the head; one connection of its own, safe from any one thread at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA busy_timeout = 10000")
            upgrade(conn)
            self._conn = conn
        return self._conn

    def save(self, seq: int, head: str) -> None:
        """Move the head forward to (seq, head); a head behind the stored one changes nothing."""
        with self._lock:
            self._connection().execute(_SAVE, (seq, head, datetime.now(UTC).isoformat()))

    def reset(self, seq: int, head: str) -> None:
        """Record (seq, head) even behind the stored head: the file was cut, and said so."""
        with self._lock:
            self._connection().execute(
                "INSERT OR REPLACE INTO audit_head (id, seq, hash, at) VALUES (1, ?, ?, ?)",
                (seq, head, datetime.now(UTC).isoformat()),
            )

    def load(self) -> tuple[int, str] | None:
        """The stored head, or None before the first line (or in a store without one)."""
        with self._lock:
            return read_head(self._connection())

    def close(self) -> None:
        """Close the connection; the next call opens a new one."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
