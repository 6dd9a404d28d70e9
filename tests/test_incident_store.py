"""The incident store's rule for repeats: which incidents a repeat joins, which it does not."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, get_args

import pytest

from responder.incidents import (
    Dispatch,
    IncidentState,
    IncidentStore,
    NewIncident,
    StepRecord,
    now,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PLAYBOOK = "contain-shell"
TARGET = "0123456789ab"
INCIDENT = "01JTEST0INCIDENT0JOINING00"
SINCE = "2000-01-01T00:00:00+00:00"
HOUR = 3600.0
STORE_VERSION = 5
"""The version this responder writes."""
# A repeat after one of these opens a new incident: the containment was undone.
UNDONE = {"released", "partially released"}
# A firing alert never joins an incident a resolved alert opened: it would shield it.
CLOSED_TO_FIRING = {*UNDONE, "resolved"}
# A repeat after one of these tries again when the fault may be gone, and joins it otherwise.
UNFINISHED = {"failed", "partially contained"}


def _incident(state: IncidentState, incident_id: str = INCIDENT) -> NewIncident:
    seen = now()
    return NewIncident(
        id=incident_id,
        playbook=PLAYBOOK,
        playbook_digest="0" * 64,
        playbook_file="shell.yaml:1",
        target=TARGET,
        subject=TARGET,
        container_id=TARGET,
        container_name="web-1",
        image=None,
        state=state,
        reason=None,
        dry_run=False,
        event_source="falco",
        event_name="Terminal shell in container",
        priority="Notice",
        first_event="01JTEST0EVENT0000000000000",
        event_count=1,
        first_seen=seen,
        last_seen=seen,
        opened_at=seen,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[IncidentStore]:
    """A new store, closed afterwards."""
    opened = IncidentStore(tmp_path / "incidents.sqlite3")
    yield opened
    opened.close()


def _finished(store: IncidentStore, incident_id: str, state: IncidentState, *, ago: float) -> None:
    """An incident that finished `ago` seconds ago after a fault that may go away."""
    store.finish(incident_id, state, "the Docker engine does not answer", retry_on_repeat=True)
    when = (datetime.now(UTC) - timedelta(seconds=ago)).isoformat()
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE incidents SET finished_at = ? WHERE id = ?", (when, incident_id))


@pytest.mark.parametrize("state", get_args(IncidentState))
def test_a_repeat_joins_an_incident_unless_its_containment_was_undone(
    store: IncidentStore, state: IncidentState
) -> None:
    """Failed for good (the container is gone) is joined: trying again would page again.

    Regression: each repeat for a container that was gone opened a new failed incident and
    paged on-call again, one incident per alert.
    """
    store.dispatch(Dispatch(cursor=1, opened=[_incident(state)]))
    store.finish(INCIDENT, state, "container '0123456789ab' not found on the engine")
    found = store.open_incident_for(PLAYBOOK, TARGET, SINCE, 0.0)
    assert found == (None if state in CLOSED_TO_FIRING else INCIDENT)
    found = store.open_incident_for(PLAYBOOK, TARGET, SINCE, 0.0, resolved=True)
    assert found == (None if state in UNDONE else INCIDENT)


@pytest.mark.parametrize("state", get_args(IncidentState))
def test_a_firing_alert_never_joins_an_incident_a_resolved_alert_opened(
    store: IncidentStore, state: IncidentState
) -> None:
    """Regression: a resolved alert listed first opened the incident and the firing one joined it.

    Whatever state the resolved alert's incident is in (running, at dispatch), a firing one
    about the same container opens its own; a resolved repeat still joins it.
    """
    incident = replace(_incident(state), opened_resolved=True)
    store.dispatch(Dispatch(cursor=1, opened=[incident]))
    assert store.open_incident_for(PLAYBOOK, TARGET, SINCE, 0.0) is None
    found = store.open_incident_for(PLAYBOOK, TARGET, SINCE, 0.0, resolved=True)
    assert found == (None if state in UNDONE else INCIDENT)


@pytest.mark.parametrize("state", sorted(UNFINISHED))
def test_the_first_repeat_after_a_fault_that_may_be_gone_tries_again_at_once(
    store: IncidentStore, state: IncidentState
) -> None:
    """Regression: a partially contained incident swallowed every repeat for its cooldown.

    The engine down for longer than the retries after the isolation left the container
    isolated but running; the alerts after the engine was back joined it and did nothing.
    """
    store.dispatch(Dispatch(cursor=1, opened=[_incident(state)]))
    _finished(store, INCIDENT, state, ago=0)
    assert store.open_incident_for(PLAYBOOK, TARGET, SINCE, HOUR) is None


def test_each_later_retry_within_the_cooldown_waits_twice_as_long(store: IncidentStore) -> None:
    """A long outage and an alert that keeps firing: retries at once, then 1, 2, 4... hold-offs."""
    ids = ("01JTEST0A", "01JTEST0B", "01JTEST0C", "01JTEST0D")
    # The n-th failure of the cooldown, 25 s ago: due at once, then after 10, 20, 40 s.
    due = (None, None, None, ids[3])
    for n, (incident_id, expected) in enumerate(zip(ids, due, strict=True), start=1):
        store.dispatch(Dispatch(cursor=n, opened=[_incident("running", incident_id)]))
        _finished(store, incident_id, "failed", ago=25)
        assert store.open_incident_for(PLAYBOOK, TARGET, SINCE, 10.0) == expected
    # Failures opened before the cooldown do not count: the next retry is at once again.
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE incidents SET opened_at = ? WHERE id != ?", (hour_ago, ids[3]))
    minute_ago = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert store.open_incident_for(PLAYBOOK, TARGET, minute_ago, HOUR) is None


def test_a_running_incident_is_joined_whatever_the_hold_off(store: IncidentStore) -> None:
    """Steps still running: a repeat is counted there."""
    store.dispatch(Dispatch(cursor=1, opened=[_incident("running")]))
    assert store.open_incident_for(PLAYBOOK, TARGET, SINCE, 0.0) == INCIDENT


def test_a_version_2_store_gains_the_column_and_its_failures_are_joined(tmp_path: Path) -> None:
    """A store written before version 3: its failed incidents count as failed for good."""
    path = tmp_path / "incidents.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(_VERSION_2_INCIDENTS)
        conn.execute("PRAGMA user_version = 2")
        incident = asdict(_incident("failed"))
        del incident["subject"], incident["opened_resolved"]  # columns of version 4
        names = ", ".join(incident)
        marks = ", ".join(f":{k}" for k in incident)
        conn.execute(f"INSERT INTO incidents ({names}) VALUES ({marks})", incident)  # noqa: S608
    store = IncidentStore(path)
    try:
        assert store.open_incident_for(PLAYBOOK, TARGET, SINCE, 0.0) == INCIDENT
        store.finish(INCIDENT, "failed", "engine down", retry_on_repeat=True)
        assert store.open_incident_for(PLAYBOOK, TARGET, SINCE, 0.0) is None
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (STORE_VERSION,)


def test_every_state_named_here_is_a_state() -> None:
    """The sets above name real states (a typo would make the tests above pass vacuously)."""
    assert set(get_args(IncidentState)) >= UNDONE | UNFINISHED


_VERSION_2_INCIDENTS = """
CREATE TABLE incidents (
    id TEXT PRIMARY KEY, playbook TEXT NOT NULL, playbook_digest TEXT NOT NULL,
    playbook_file TEXT NOT NULL, target TEXT, container_id TEXT, container_name TEXT,
    image TEXT, state TEXT NOT NULL, reason TEXT, dry_run INTEGER NOT NULL, changed_at TEXT,
    event_source TEXT NOT NULL, event_name TEXT NOT NULL, priority TEXT NOT NULL,
    first_event TEXT NOT NULL, event_count INTEGER NOT NULL, first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL, opened_at TEXT NOT NULL, finished_at TEXT, released_at TEXT
);
"""


def _claim(store: IncidentStore, incident_id: str, limit: int) -> bool:
    """Claim with the first step starting, as the runner does for a new incident."""
    first = StepRecord(index=0, action="docker:pause", started_at=now())
    return store.claim_containment(incident_id, SINCE, limit, first)


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_a_claim_saves_the_first_step_only_when_it_may_go_ahead(
    store: IncidentStore, limit: int
) -> None:
    """Up to `limit` claims pass, each with its first step started; the rest save no step."""
    ids = [f"01JTEST0INCIDENT0CLAIM{n:04d}" for n in range(limit + 2)]
    store.dispatch(Dispatch(cursor=1, opened=[_incident("running", i) for i in ids]))
    allowed = [_claim(store, i, limit) for i in ids]
    assert allowed == [True] * limit + [False] * 2
    for incident_id, went in zip(ids, allowed, strict=True):
        record = store.get(incident_id)
        assert record is not None
        assert [(s.index, s.status) for s in record.steps] == ([(0, "pending")] if went else [])


def test_a_claim_made_before_a_restart_passes_again_and_saves_the_first_step(
    store: IncidentStore,
) -> None:
    """Resuming is not a new containment, even at the limit, and its first step is saved."""
    store.dispatch(Dispatch(cursor=1, opened=[_incident("running")]))
    assert store.claim_containment(INCIDENT, SINCE, 1)
    assert _claim(store, INCIDENT, 1)
    record = store.get(INCIDENT)
    assert record is not None
    assert [(s.index, s.status) for s in record.steps] == [(0, "pending")]
