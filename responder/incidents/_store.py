"""The incident store: SQLite in the data directory, written by the worker and by release."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from responder.incidents._anchor import read_head
from responder.incidents._dispatching import (
    Deferred,
    Dispatch,
    JoinQuery,
    NewIncident,
    deferred,
    open_incident_for,
    open_incidents_for,
    quarantined,
    write_dispatch,
)
from responder.incidents._model import IncidentRecord, StepRecord
from responder.incidents._release_records import add_release, releases_of
from responder.incidents._schema import upgrade
from responder.incidents._times import now

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from responder.incidents._model import IncidentState, ReleaseAttempt, StepRelease

__all__ = ["INCIDENTS_FILE", "Dispatch", "IncidentStore", "JoinQuery", "NewIncident"]

INCIDENTS_FILE = "incidents.sqlite3"
_COLUMNS = (
    "id, playbook, playbook_digest, playbook_file, target, container_id, container_name, image, "
    "state, reason, dry_run, event_source, event_name, priority, first_event, event_count, "
    "first_seen, last_seen, opened_at, finished_at, released_at"
)


class IncidentStore:
    """One connection, to be used from one thread at a time (the caller serialises)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("PRAGMA busy_timeout = 10000")
        upgrade(self._conn)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    # -- the worker's cursor over the journal -------------------------------------------------

    def cursor(self) -> int:
        """The last journal sequence number fully dispatched."""
        row = self._conn.execute("SELECT value FROM worker WHERE key = 'cursor'").fetchone()
        return int(row[0]) if row else 0

    def dispatch(self, batch: Dispatch) -> None:
        """In one transaction: open incidents, count repeats, set events aside, move the cursor.

        `batch.sources` maps playbook digests to their canonical text, kept once per version so
        a report can show exactly what ran even after the file has changed.
        """
        with self._transaction():
            write_dispatch(self._conn, batch, now())

    def open_incident_for(
        self,
        playbook: str,
        subject: str | None,
        since: str,
        hold_off: float = 0.0,
        *,
        resolved: bool = False,
    ) -> str | None:
        """The incident a repeat of this playbook on this subject joins (`open_incident_for`)."""
        query = JoinQuery(playbook, subject, since, resolved)
        return open_incident_for(self._conn, query, hold_off)

    def open_incidents_for(
        self, queries: Iterable[JoinQuery], hold_off: float = 0.0
    ) -> dict[JoinQuery, str]:
        """The incident each query joins, in one call: query -> the incident it joins."""
        return open_incidents_for(self._conn, queries, hold_off)

    def deferred(self) -> list[Deferred]:
        """Events waiting for the engine to answer their container lookup, oldest first."""
        return deferred(self._conn)

    def quarantined(self, limit: int = 100) -> list[tuple[int, str, str, str]]:
        """Events that could not be read back or dispatched, newest first."""
        return quarantined(self._conn, limit)

    def audit_head(self) -> tuple[int, str] | None:
        """The audit trail's head as recorded with its last append (`AuditAnchor`), if any."""
        return read_head(self._conn)

    def playbook_source(self, digest: str) -> str | None:
        """The canonical text of the playbook version with this digest, if it was kept."""
        row = self._conn.execute(
            "SELECT source FROM playbooks WHERE digest = ?", (digest,)
        ).fetchone()
        return row[0] if row else None

    # -- steps and states ----------------------------------------------------------------------

    def save_step(self, incident_id: str, step: StepRecord) -> None:
        """Record a step's latest state (durable before the next step starts)."""
        self._conn.execute(
            "INSERT OR REPLACE INTO steps (incident_id, idx, record) VALUES (?, ?, ?)",
            (incident_id, step.index, step.model_dump_json()),
        )

    def finish(
        self,
        incident_id: str,
        state: IncidentState,
        reason: str | None,
        *,
        retry_on_repeat: bool = False,
    ) -> None:
        """The incident's final state after its steps.

        `retry_on_repeat`: its containment did not finish for a fault that may go away (a
        transient one the retries did not outlast), so a repeat may try again.

        A `failed` incident changed no container: the containment it claimed against the
        limit is given back, so alerts about containers that cannot be contained do not use
        up the limit and leave the next real one held.
        """
        self._conn.execute(
            "UPDATE incidents SET state = ?, reason = ?, finished_at = ?, retry_on_repeat = ?, "
            "changed_at = CASE WHEN ? = 'failed' THEN NULL ELSE changed_at END WHERE id = ?",
            (state, reason, now(), int(retry_on_repeat), state, incident_id),
        )

    def released(
        self,
        incident_id: str,
        state: IncidentState,
        *,
        requested_by: str,
        steps: Sequence[StepRelease],
    ) -> ReleaseAttempt:
        """Record a release beside every earlier one, and make it the incident's state."""
        at = now()
        with self._transaction():
            self._conn.execute(
                "UPDATE incidents SET state = ?, released_at = ? WHERE id = ?",
                (state, at, incident_id),
            )
            return add_release(
                self._conn, incident_id, at=at, state=state, requested_by=requested_by, steps=steps
            )

    def claim_containment(
        self, incident_id: str, since: str, limit: int, first: StepRecord | None = None
    ) -> bool:
        """Count this incident against the containment limit; True when it may go ahead.

        Refused when `limit` incidents have changed a container since `since`. Atomic. When
        it may go ahead, `first` (the first step, starting; given only while no step of the
        incident is recorded) is saved in the same transaction: durable with no commit of its own.
        """
        with self._transaction():
            row = self._conn.execute(
                "SELECT changed_at FROM incidents WHERE id = ?", (incident_id,)
            ).fetchone()
            if row and row[0]:
                # Claimed before a restart: resuming is not a new containment.
                if first is not None:
                    self.save_step(incident_id, first)
                return True
            (count,) = self._conn.execute(
                "SELECT count(*) FROM incidents WHERE changed_at >= ?", (since,)
            ).fetchone()
            if count >= limit:
                return False
            self._conn.execute(
                "UPDATE incidents SET changed_at = ? WHERE id = ?", (now(), incident_id)
            )
            if first is not None:
                self.save_step(incident_id, first)
            return True

    def running(self) -> list[str]:
        """Incidents whose steps did not finish: resumed at start-up, oldest first."""
        rows = self._conn.execute(
            "SELECT id FROM incidents WHERE state = 'running' ORDER BY opened_at"
        ).fetchall()
        return [row[0] for row in rows]

    # -- reading -------------------------------------------------------------------------------

    def get(self, incident_id: str) -> IncidentRecord | None:
        """One incident with its steps and every release."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM incidents WHERE id = ?",  # noqa: S608 - our own column names
            (incident_id,),
        ).fetchone()
        if row is None:
            return None
        steps = [
            StepRecord.model_validate_json(record)
            for (record,) in self._conn.execute(
                "SELECT record FROM steps WHERE incident_id = ? ORDER BY idx", (incident_id,)
            )
        ]
        return _record(row, steps).model_copy(
            update={"releases": tuple(releases_of(self._conn, incident_id))}
        )

    def list(self, limit: int = 50, before: str | None = None) -> list[IncidentRecord]:
        """Newest first, without steps or releases (`get` one for those)."""
        sql = f"SELECT {_COLUMNS} FROM incidents"  # noqa: S608 - our own column names
        params: list[Any] = []
        if before:
            sql += " WHERE id < ?"
            params.append(before)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [_record(row, []) for row in self._conn.execute(sql, params)]

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, tb: object) -> None:
        self._conn.execute("COMMIT" if kind is None else "ROLLBACK")


def _record(row: tuple[Any, ...], steps: list[StepRecord]) -> IncidentRecord:
    names = [name.strip() for name in _COLUMNS.split(",")]
    values = dict(zip(names, row, strict=True))
    values["dry_run"] = bool(values["dry_run"])
    return IncidentRecord.model_validate({**values, "steps": steps})
