"""Every release of an incident, kept in order: a later release never overwrites an earlier one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from responder.incidents._model import ReleaseAttempt, StepRelease

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence

    from responder.incidents._model import IncidentState

__all__ = ["add_release", "releases_of"]


def add_release(
    conn: sqlite3.Connection,
    incident_id: str,
    *,
    at: str,
    state: IncidentState,
    requested_by: str,
    steps: Sequence[StepRelease],
) -> ReleaseAttempt:
    """Record one more release of the incident (inside the caller's transaction)."""
    (last,) = conn.execute(
        "SELECT coalesce(max(number), 0) FROM releases WHERE incident_id = ?", (incident_id,)
    ).fetchone()
    attempt = ReleaseAttempt(
        number=int(last) + 1, at=at, requested_by=requested_by, state=state, steps=tuple(steps)
    )
    conn.execute(
        "INSERT INTO releases (incident_id, number, record) VALUES (?, ?, ?)",
        (incident_id, attempt.number, attempt.model_dump_json()),
    )
    return attempt


def releases_of(conn: sqlite3.Connection, incident_id: str) -> list[ReleaseAttempt]:
    """The incident's releases, oldest first."""
    return [
        ReleaseAttempt.model_validate_json(record)
        for (record,) in conn.execute(
            "SELECT record FROM releases WHERE incident_id = ? ORDER BY number", (incident_id,)
        )
    ]
