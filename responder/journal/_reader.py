"""Queries on the journal for the read-only views: newest first, filtered, paged by sequence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from responder.journal._event import Event, Priority
from responder.journal._schema import connect

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["EventQuery", "EventRow", "JournalReader", "Unreadable", "read_event"]

_COLUMNS = (
    "seq, id, source, name, priority, status, hostname, container_id, container_name, "
    "time, received_at"
)


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters and a page: events older than `before` (a sequence number), newest first."""

    source: str | None = None
    name: str | None = None
    before: int | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class EventRow:
    """One line of the events view."""

    seq: int
    id: str
    source: str
    name: str
    priority: Priority
    status: str
    hostname: str | None
    container_id: str | None
    container_name: str | None
    time: datetime
    received_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The row as the HTTP view and `--json` print it."""
        return {
            "id": self.id,
            "seq": self.seq,
            "source": self.source,
            "name": self.name,
            "priority": self.priority.label,
            "status": self.status,
            "hostname": self.hostname,
            "container": {"id": self.container_id, "name": self.container_name}
            if self.container_id or self.container_name
            else None,
            "time": self.time.isoformat(),
            "received_at": self.received_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A journaled body that does not read back as an Event: the worker sets it aside."""

    id: str
    error: str


def read_event(event_id: str, body: str) -> Event | Unreadable:
    """The stored body as the worker reads it, or why it cannot be read.

    Intake bounds what it accepts so that every acknowledged body reads back; a body that
    still does not (an older journal, a fault) must cost one event, never the worker.
    """
    try:
        return Event.model_validate_json(body)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        first = str(exc).splitlines()
        why = " ".join(first[:3])[:300]
        return Unreadable(event_id, f"the journaled event does not read back: {why}")
    except RecursionError:
        return Unreadable(event_id, "the journaled event is nested too deeply to read back")


class JournalReader:
    """A read-only connection; use it from one thread at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path, readonly=True)
        return self._conn

    def events(self, query: EventQuery) -> list[EventRow]:
        """Rows matching the query, newest first."""
        where: list[str] = []
        params: list[object] = []
        for column, value in (("source", query.source), ("name", query.name)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.before is not None:
            where.append("seq < ?")
            params.append(query.before)
        sql = f"SELECT {_COLUMNS} FROM events"  # noqa: S608 - only our own column names
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT ?"
        rows = self._connection().execute(sql, [*params, query.limit]).fetchall()
        return [_event_row(row) for row in rows]

    def event(self, event_id: str) -> Event | None:
        """The whole event as journaled, or None (also when it does not read back)."""
        found = self.stored(event_id)
        return found[1] if found is not None and isinstance(found[1], Event) else None

    def stored(self, event_id: str) -> tuple[str, Event | Unreadable] | None:
        """The body as stored, and the event read from it (or why it does not read), or None."""
        found = (
            self._connection()
            .execute("SELECT body FROM events WHERE id = ?", (event_id,))
            .fetchone()
        )
        return (found[0], read_event(event_id, found[0])) if found else None

    def after(
        self, seq: int, limit: int, known: Mapping[str, Event] | None = None
    ) -> list[tuple[int, Event | Unreadable]]:
        """Events journaled after `seq`, oldest first: what the worker has yet to dispatch.

        `known`: events by id as this process journaled them; those are not read back again.
        """
        rows = (
            self._connection()
            .execute(
                "SELECT seq, id, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            )
            .fetchall()
        )
        found = known or {}
        return [(row[0], found.get(row[1]) or read_event(row[1], row[2])) for row in rows]

    def at(self, seqs: list[int]) -> list[tuple[int, Event | Unreadable]]:
        """The events with these sequence numbers, oldest first (the ones the worker deferred)."""
        marks = ",".join("?" * len(seqs))
        rows = (
            self._connection()
            .execute(
                f"SELECT seq, id, body FROM events WHERE seq IN ({marks}) ORDER BY seq",  # noqa: S608 - only placeholders
                seqs,
            )
            .fetchall()
        )
        return [(row[0], read_event(row[1], row[2])) for row in rows]

    def last_seq(self) -> int:
        """The sequence number of the newest event, 0 when there is none."""
        (last,) = self._connection().execute("SELECT max(seq) FROM events").fetchone()
        return int(last or 0)

    def count(self) -> int:
        """How many events the journal holds."""
        (total,) = self._connection().execute("SELECT count(*) FROM events").fetchone()
        return int(total)

    def close(self) -> None:
        """Close the connection; the next query opens a new one."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _event_row(row: tuple[Any, ...]) -> EventRow:
    seq, id_, source, name, priority, status, hostname, cid, cname, time, received = row
    return EventRow(
        seq=seq,
        id=id_,
        source=source,
        name=name,
        priority=Priority(priority),
        status=status,
        hostname=hostname,
        container_id=cid,
        container_name=cname,
        time=datetime.fromisoformat(time),
        received_at=datetime.fromisoformat(received),
    )
