"""The incident store's tables, and bringing a file written by an older responder up to date."""

from __future__ import annotations

import json
import sqlite3

__all__ = ["UNRECORDED_REQUESTER", "upgrade"]

_VERSION = 5
UNRECORDED_REQUESTER = "not recorded (released before the responder kept every release)"
"""Who asked for a release that a store older than version 4 kept only the last of."""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id              TEXT PRIMARY KEY,
    playbook        TEXT NOT NULL,
    playbook_digest TEXT NOT NULL,
    playbook_file   TEXT NOT NULL,
    target          TEXT,
    container_id    TEXT,
    container_name  TEXT,
    image           TEXT,
    state           TEXT NOT NULL,
    reason          TEXT,
    dry_run         INTEGER NOT NULL,
    changed_at      TEXT,
    event_source    TEXT NOT NULL,
    event_name      TEXT NOT NULL,
    priority        TEXT NOT NULL,
    first_event     TEXT NOT NULL,
    event_count     INTEGER NOT NULL,
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    opened_at       TEXT NOT NULL,
    finished_at     TEXT,
    released_at     TEXT,
    retry_on_repeat INTEGER NOT NULL DEFAULT 0,
    subject         TEXT,
    opened_resolved INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS incidents_match ON incidents (playbook, target, opened_at);
CREATE INDEX IF NOT EXISTS incidents_state ON incidents (state);
CREATE TABLE IF NOT EXISTS incident_events (
    incident_id TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    PRIMARY KEY (incident_id, event_id)
);
CREATE TABLE IF NOT EXISTS steps (
    incident_id TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    record      TEXT NOT NULL,
    PRIMARY KEY (incident_id, idx)
);
CREATE TABLE IF NOT EXISTS playbooks (
    digest TEXT PRIMARY KEY,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS worker (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS releases (
    incident_id TEXT NOT NULL,
    number      INTEGER NOT NULL,
    record      TEXT NOT NULL,
    PRIMARY KEY (incident_id, number)
);
CREATE TABLE IF NOT EXISTS quarantine (
    seq      INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    error    TEXT NOT NULL,
    at       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL,
    at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deferred (
    seq      INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    reason   TEXT NOT NULL,
    since    TEXT NOT NULL
);
"""
_SUBJECT_INDEX = (
    "CREATE INDEX IF NOT EXISTS incidents_subject ON incidents (playbook, subject, opened_at)"
)


def upgrade(conn: sqlite3.Connection) -> None:
    """Create the tables of a new file, or add what an older one lacks; refuse a newer one.

    Only a new or older file is written here: a command reading the store while the server
    holds a write transaction must not wait on a lock to change nothing.
    """
    version = _version(conn)
    if version == _VERSION:
        return
    conn.executescript(_SCHEMA)  # idempotent: whoever upgrades at the same time, once
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _version(conn) < _VERSION:  # not upgraded meanwhile by another process
            _add_retry_on_repeat(conn)
            _keep_the_last_release(conn)
            _add_subject(conn)
            conn.execute(_SUBJECT_INDEX)
            conn.execute(f"PRAGMA user_version = {_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _version(conn: sqlite3.Connection) -> int:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > _VERSION:
        raise sqlite3.DatabaseError(
            f"incident store version {version} is newer than this responder"
        )
    return int(version)


def _add_retry_on_repeat(conn: sqlite3.Connection) -> None:
    """Version 3: the column a store of version 1 or 2 lacks (its failures are then joined)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(incidents)")}
    if "retry_on_repeat" not in columns:
        conn.execute("ALTER TABLE incidents ADD COLUMN retry_on_repeat INTEGER NOT NULL DEFAULT 0")


def _keep_the_last_release(conn: sqlite3.Connection) -> None:
    """Version 4: the one release an older store kept (its time, state, steps) becomes release 1.

    Who asked was only in the audit trail then; the steps' release results are the last ones.
    """
    released = conn.execute(
        "SELECT id, state, released_at FROM incidents WHERE released_at IS NOT NULL "
        "AND id NOT IN (SELECT incident_id FROM releases)"
    ).fetchall()
    for incident_id, state, released_at in released:
        steps = [
            json.loads(record)
            for (record,) in conn.execute(
                "SELECT record FROM steps WHERE incident_id = ? ORDER BY idx DESC", (incident_id,)
            )
        ]
        attempt = {
            "number": 1,
            "at": released_at,
            "requested_by": UNRECORDED_REQUESTER,
            "state": state if state in ("released", "partially released") else "released",
            "steps": [
                {
                    "index": step["index"],
                    "action": step["action"],
                    "status": step["release_status"],
                    "detail": step.get("release_detail") or "",
                }
                for step in steps
                if step.get("release_status")
            ],
        }
        conn.execute(
            "INSERT INTO releases (incident_id, number, record) VALUES (?, 1, ?)",
            (incident_id, json.dumps(attempt, separators=(",", ":"))),
        )


def _add_subject(conn: sqlite3.Connection) -> None:
    """Version 5: what a repeat joins by, and whether a resolved alert opened the incident.

    An older incident's subject is its target: its repeats join it as they did.
    """
    columns = {row[1] for row in conn.execute("PRAGMA table_info(incidents)")}
    if "subject" not in columns:
        conn.execute("ALTER TABLE incidents ADD COLUMN subject TEXT")
        conn.execute("UPDATE incidents SET subject = target")
    if "opened_resolved" not in columns:
        conn.execute("ALTER TABLE incidents ADD COLUMN opened_resolved INTEGER NOT NULL DEFAULT 0")
