"""The journal's SQLite file: its tables, its pragmas, and the migrations between versions."""

from __future__ import annotations

import sqlite3
from pathlib import Path  # noqa: TC003 - used at runtime

__all__ = ["SCHEMA_VERSION", "connect"]

SCHEMA_VERSION = 1

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE events (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        id             TEXT NOT NULL UNIQUE,
        key            TEXT NOT NULL UNIQUE,
        source         TEXT NOT NULL,
        name           TEXT NOT NULL,
        priority       INTEGER NOT NULL,
        status         TEXT NOT NULL,
        hostname       TEXT,
        container_id   TEXT,
        container_name TEXT,
        time           TEXT NOT NULL,
        received_at    TEXT NOT NULL,
        body           TEXT NOT NULL
    );
    CREATE INDEX events_source_name ON events (source, name, seq);
    CREATE INDEX events_name ON events (name, seq);
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
}

# Indexes added after a version, without a new version: an older responder still opens the
# file (it checks `user_version`) and its inserts keep them up to date. Made at every writable
# open; the first open of a big old journal builds them once.
_INDEXES = (
    # `GET /v1/events?source=`: newest first by seq within a source, not a sort of them all.
    "CREATE INDEX IF NOT EXISTS events_source_seq ON events (source, seq)",
)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the journal with durable settings: WAL, and an fsync at every commit."""
    if readonly:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
        )
    else:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    if not readonly:
        if _is_new(conn):
            # Before the first table, or never: pruning can then hand freed pages back to the
            # file system a little at a time (`PRAGMA incremental_vacuum`). An older journal
            # without it opens as it is; its freed pages are reused instead.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit is on disk before we acknowledge, not only in the page cache.
        conn.execute("PRAGMA synchronous = FULL")
        _migrate(conn)
    return conn


def _is_new(conn: sqlite3.Connection) -> bool:
    (tables,) = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return int(tables) == 0


def _migrate(conn: sqlite3.Connection) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"journal schema version {version} is newer than this responder ({SCHEMA_VERSION})"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        # One script, one transaction: a migration is applied whole or not at all.
        script = f"BEGIN IMMEDIATE;{_MIGRATIONS[target]}PRAGMA user_version = {target};COMMIT;"
        try:
            conn.executescript(script)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    for index in _INDEXES:
        conn.execute(index)
