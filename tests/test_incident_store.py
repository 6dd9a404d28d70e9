"""The incident store's rule for repeats: which incidents a repeat joins, which it does not."""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

import pytest

from responder.incidents import IncidentState, IncidentStore, NewIncident, now

if TYPE_CHECKING:
    from pathlib import Path

PLAYBOOK = "contain-shell"
TARGET = "0123456789ab"
INCIDENT = "01JTEST0INCIDENT0JOINING00"
SINCE = "2000-01-01T00:00:00+00:00"
# A repeat after one of these opens a new incident: the containment did not finish (the fault
# may be gone now, so try again) or was undone.
NOT_JOINED = {"failed", "partially contained", "released", "partially released"}


def _incident(state: str) -> NewIncident:
    seen = now()
    return NewIncident(
        id=INCIDENT,
        playbook=PLAYBOOK,
        playbook_digest="0" * 64,
        playbook_file="shell.yaml:1",
        target=TARGET,
        container_id=TARGET,
        container_name="web-1",
        image=None,
        state=state,
        reason=None,
        dry_run=0,
        event_source="falco",
        event_name="Terminal shell in container",
        priority="Notice",
        first_event="01JTEST0EVENT0000000000000",
        event_count=1,
        first_seen=seen,
        last_seen=seen,
        opened_at=seen,
    )


@pytest.mark.parametrize("state", get_args(IncidentState))
def test_a_repeat_joins_an_incident_unless_its_containment_did_not_finish_or_was_undone(
    tmp_path: Path, state: str
) -> None:
    """Regression: a partially contained incident swallowed every repeat for its cooldown.

    The engine down for longer than the retries after the isolation left the container
    isolated but running; the alerts after the engine was back joined it and did nothing.
    """
    store = IncidentStore(tmp_path / "incidents.sqlite3")
    try:
        store.dispatch(1, [_incident(state)], [])
        found = store.open_incident_for(PLAYBOOK, TARGET, SINCE)
    finally:
        store.close()
    assert found == (None if state in NOT_JOINED else INCIDENT)


def test_every_state_not_joined_is_a_state() -> None:
    """The list above names real states (a typo would make the test above pass vacuously)."""
    assert set(get_args(IncidentState)) >= NOT_JOINED
