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

# Made where it is first written: a store of an older responder lacks it, and reading one
# (`audit verify`) must not change it.
_PRUNED_TABLE = (
    "CREATE TABLE IF NOT EXISTS audit_pruned (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "seq INTEGER NOT NULL, hash TEXT NOT NULL, at TEXT NOT NULL)"
)
_SAVE_PRUNED = (
    "INSERT INTO audit_pruned (id, seq, hash, at) VALUES (1, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, at = excluded.at "
    "WHERE excluded.seq > audit_pruned.seq"
)
_HAS_PRUNED = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_pruned'"


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

    def save_pruned(self, seq: int, head: str) -> None:
        """Record that the trail is pruned through (seq, head); a point behind it changes nothing."""
        with self._lock:
            conn = self._connection()
            conn.execute(_PRUNED_TABLE)
            conn.execute(_SAVE_PRUNED, (seq, head, datetime.now(UTC).isoformat()))

    def load_pruned(self) -> tuple[int, str] | None:
        """The (seq, hash) the trail was last pruned through, or None (never, or an older store)."""
        with self._lock:
            conn = self._connection()
            if conn.execute(_HAS_PRUNED).fetchone() is None:
                return None
            row = conn.execute("SELECT seq, hash FROM audit_pruned").fetchone()
            return (int(row[0]), str(row[1])) if row else None

    def close(self) -> None:
        """Close the connection; the next call opens a new one."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
