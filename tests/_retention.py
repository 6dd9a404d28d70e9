"""Retention tests' shared pieces: a real journal of chosen ages, a real incident store, evidence."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from responder.incidents import INCIDENTS_FILE, Dispatch, IncidentStore, NewIncident, SetAside
from responder.journal import JOURNAL_FILE, Event, Journal, Priority, new_event_id
from responder.metrics import Metrics

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = [
    "add_evidence",
    "ago",
    "event_ids",
    "incident",
    "journal_of",
    "old_event",
    "record_dispatch",
    "set_closed",
]


def ago(days: float) -> datetime:
    """That long before now, in UTC."""
    return datetime.now(UTC) - timedelta(days=days)


def old_event(n: int, days: float, size: int = 0) -> Event:
    """A distinct event received `days` ago, with `size` bytes of output."""
    at = ago(days)
    return Event(
        id=new_event_id(),
        key=f"retention:{n}:{new_event_id()}",
        source="falco",
        name="rule",
        priority=Priority.NOTICE,
        status="firing",
        time=at,
        received_at=at,
        output="x" * size,
    )


async def journal_of(data_dir: Path, events: Sequence[Event]) -> None:
    """Journal the events, in order, through the real writer."""
    journal = Journal(data_dir, Metrics())
    await journal.open()
    try:
        for start in range(0, len(events), 200):
            await journal.append(events[start : start + 200])
    finally:
        await journal.close()


def event_ids(data_dir: Path) -> list[str]:
    """The ids still in the journal, oldest first."""
    with closing(sqlite3.connect(data_dir / JOURNAL_FILE)) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM events ORDER BY seq")]


def incident(incident_id: str, first_event: str, state: str = "contained") -> NewIncident:
    """An incident opened by `first_event`."""
    seen = datetime.now(UTC).isoformat()
    return NewIncident(
        id=incident_id,
        playbook="contain-shell",
        playbook_digest="0" * 64,
        playbook_file="shell.yaml:1",
        target="c" * 64,
        subject="c" * 64,
        container_id="c" * 64,
        container_name="web-1",
        image=None,
        state=state,  # type: ignore[arg-type]
        event_source="falco",
        event_name="rule",
        priority="Notice",
        first_event=first_event,
        first_seen=seen,
        last_seen=seen,
        opened_at=seen,
    )


def record_dispatch(
    data_dir: Path,
    cursor: int,
    opened: Sequence[NewIncident] = (),
    *,
    deferred: Sequence[tuple[int, str]] = (),
    quarantined: Sequence[tuple[int, str]] = (),
) -> None:
    """What the worker writes after dispatching up to `cursor`, in the real incident store."""
    store = IncidentStore(data_dir / INCIDENTS_FILE)
    try:
        store.dispatch(
            Dispatch(
                cursor=cursor,
                opened=list(opened),
                deferred=[SetAside(seq, eid, "engine down") for seq, eid in deferred],
                quarantined=[SetAside(seq, eid, "unreadable") for seq, eid in quarantined],
            )
        )
    finally:
        store.close()


def set_closed(data_dir: Path, incident_id: str, state: str, days: float) -> None:
    """Put an incident in `state`, released (or finished) `days` ago."""
    at = ago(days).isoformat()
    with closing(sqlite3.connect(data_dir / INCIDENTS_FILE)) as conn, conn:
        conn.execute(
            "UPDATE incidents SET state = ?, released_at = ?, finished_at = ? WHERE id = ?",
            (state, at if "released" in state else None, at, incident_id),
        )


def add_evidence(data_dir: Path, incident_id: str, size: int) -> Path:
    """An evidence directory of `size` bytes in two files, one in a sub-directory."""
    path = data_dir / "evidence" / incident_id
    (path / "logs").mkdir(parents=True)
    (path / "inspect.json").write_bytes(b"{" * (size // 2))
    (path / "logs" / "stdout.log").write_bytes(b"l" * (size - size // 2))
    return path
