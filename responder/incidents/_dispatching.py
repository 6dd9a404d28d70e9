"""The store's side of dispatch: incidents opened and joined, events set aside, the cursor."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable

    from responder.incidents._model import IncidentState

__all__ = [
    "Deferred",
    "Dispatch",
    "JoinQuery",
    "Joined",
    "NewIncident",
    "SetAside",
    "deferred",
    "open_incident_for",
    "open_incidents_for",
    "quarantined",
    "write_dispatch",
]

_UNFINISHED = ("failed", "partially contained")
_MAX_DOUBLINGS = 20  # past a million times the hold-off, the cooldown has long ended


@dataclass(frozen=True, slots=True)
class NewIncident:
    """An incident about to be opened: one field per column that dispatch inserts."""

    id: str
    playbook: str
    playbook_digest: str
    playbook_file: str
    target: str | None
    """The container's full id when it was found, else the alert's reference; None: none."""
    subject: str | None
    """What makes two alerts of its playbook the same incident (the worker's `incident_subject`)."""
    container_id: str | None
    container_name: str | None
    image: str | None
    event_source: str
    event_name: str
    priority: str
    first_event: str
    first_seen: str
    last_seen: str
    opened_at: str
    opened_resolved: bool = False
    """Opened by a resolved alert: a firing one never joins it."""
    dry_run: bool = False
    state: IncidentState = "running"
    reason: str | None = None
    event_count: int = 1


@dataclass(frozen=True, slots=True)
class Joined:
    """A repeat of an open incident's alert: counted there, not acted on again."""

    incident_id: str
    event_id: str
    seen: str
    """When the event was received."""


@dataclass(frozen=True, slots=True)
class SetAside:
    """A journaled event set aside: quarantined for good, or deferred until the engine answers."""

    seq: int
    event_id: str
    why: str


@dataclass(frozen=True, slots=True)
class JoinQuery:
    """Which open incident a matched event would join: its playbook, subject and cooldown."""

    playbook: str
    subject: str | None
    since: str
    resolved: bool = False
    """The event is a resolved alert: it may join an incident a resolved alert opened."""


@dataclass(frozen=True, slots=True)
class Deferred:
    """An event set aside until the engine answers the lookup of its container."""

    seq: int
    event_id: str
    reason: str
    """The engine's fault when it was first deferred."""
    since: str


@dataclass(slots=True)
class Dispatch:
    """What one dispatch of journaled events changes, written in one transaction."""

    cursor: int | None
    """The journal sequence number dispatched up to; None leaves it (deferred events retried)."""
    opened: list[NewIncident] = field(default_factory=list)
    joined: list[Joined] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    quarantined: list[SetAside] = field(default_factory=list)
    """Events that cannot be read back or dispatched."""
    deferred: list[SetAside] = field(default_factory=list)
    """Events whose container could not be looked up: dispatched again later."""
    undeferred: list[int] = field(default_factory=list)
    """Sequence numbers of deferred events dispatched now."""


def write_dispatch(conn: sqlite3.Connection, batch: Dispatch, stamp: str) -> None:
    """Every change of one dispatch, inside the caller's transaction; `stamp` is now."""
    conn.executemany(
        "INSERT OR IGNORE INTO playbooks (digest, source) VALUES (?, ?)", batch.sources.items()
    )
    for incident in batch.opened:
        columns = asdict(incident)
        names = ", ".join(columns)
        marks = ", ".join(f":{k}" for k in columns)
        conn.execute(f"INSERT INTO incidents ({names}) VALUES ({marks})", columns)  # noqa: S608 - our own column names
        conn.execute(
            "INSERT OR IGNORE INTO incident_events VALUES (?, ?)",
            (incident.id, incident.first_event),
        )
    for joined in batch.joined:
        added = conn.execute(
            "INSERT OR IGNORE INTO incident_events VALUES (?, ?)",
            (joined.incident_id, joined.event_id),
        ).rowcount
        if added:
            conn.execute(
                "UPDATE incidents SET event_count = event_count + 1, last_seen = ? WHERE id = ?",
                (joined.seen, joined.incident_id),
            )
    conn.executemany(
        "INSERT OR IGNORE INTO quarantine (seq, event_id, error, at) VALUES (?, ?, ?, ?)",
        [(e.seq, e.event_id, e.why, stamp) for e in batch.quarantined],
    )
    conn.executemany("DELETE FROM deferred WHERE seq = ?", [(seq,) for seq in batch.undeferred])
    conn.executemany(
        "INSERT OR IGNORE INTO deferred (seq, event_id, reason, since) VALUES (?, ?, ?, ?)",
        [(e.seq, e.event_id, e.why, stamp) for e in batch.deferred],
    )
    if batch.cursor is not None:
        conn.execute(
            "INSERT OR REPLACE INTO worker (key, value) VALUES ('cursor', ?)", (str(batch.cursor),)
        )


def open_incident_for(conn: sqlite3.Connection, query: JoinQuery, hold_off: float) -> str | None:
    """The incident a repeat of this playbook on this subject joins, or None: open one.

    Only an open incident is joined: not one whose alert was resolved when it opened (unless
    this event is a resolved one too), nor one whose containment was undone (released). The
    latest since `query.since` (the cooldown) is joined, unless its containment did not finish
    for a fault that may be gone by now (the engine down for longer than the retries): then a
    repeat tries again. The first such retry within the cooldown is at once; the n-th waits
    `hold_off` x 2^(n-2) seconds after the last failure, so that a long outage and an alert that
    keeps firing do not page on every retry. Until then repeats join the failed incident and
    are counted there. An incident that failed for good (the container is gone) is joined:
    trying again would fail the same way and page again.
    """
    playbook, subject, since = query.playbook, query.subject, query.since
    row = conn.execute(
        "SELECT id, state, retry_on_repeat, finished_at FROM incidents "
        "WHERE playbook = ? AND subject IS ? AND opened_at >= ? "
        "AND state NOT IN ('released', 'partially released') "
        "AND ((opened_resolved = 0 AND state != 'resolved') OR ?) "
        "ORDER BY opened_at DESC LIMIT 1",
        (playbook, subject, since, int(query.resolved)),
    ).fetchone()
    if row is None:
        return None
    incident_id, state, retry, finished_at = row
    if state not in _UNFINISHED or not retry or finished_at is None:
        return str(incident_id)
    (retried,) = conn.execute(
        "SELECT count(*) FROM incidents WHERE playbook = ? AND subject IS ? "
        "AND opened_at >= ? AND retry_on_repeat = 1",
        (playbook, subject, since),
    ).fetchone()
    if retried <= 1:
        return None
    due = datetime.fromisoformat(finished_at) + timedelta(
        seconds=hold_off * 2 ** min(retried - 2, _MAX_DOUBLINGS)
    )
    return None if datetime.now(UTC) >= due else str(incident_id)


def deferred(conn: sqlite3.Connection) -> list[Deferred]:
    """Events waiting for the engine to answer their container lookup, oldest first."""
    rows = conn.execute("SELECT seq, event_id, reason, since FROM deferred ORDER BY seq")
    return [Deferred(int(seq), str(i), str(reason), str(since)) for seq, i, reason, since in rows]


def quarantined(conn: sqlite3.Connection, limit: int) -> list[tuple[int, str, str, str]]:
    """Events that could not be read back or dispatched, newest first: (seq, id, error, when)."""
    rows = conn.execute(
        "SELECT seq, event_id, error, at FROM quarantine ORDER BY seq DESC LIMIT ?", (limit,)
    )
    return [(int(a), str(b), str(c), str(d)) for a, b, c, d in rows]


def open_incidents_for(
    conn: sqlite3.Connection, queries: Iterable[JoinQuery], hold_off: float
) -> dict[JoinQuery, str]:
    """`open_incident_for` of each query: query -> the incident it joins."""
    found: dict[JoinQuery, str] = {}
    for query in queries:
        incident_id = open_incident_for(conn, query, hold_off)
        if incident_id is not None:
            found[query] = incident_id
    return found
