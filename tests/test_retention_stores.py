"""Evidence and outbox retention on real directories and a real outbox file."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from _messages import message
from _retention import add_evidence, ago, incident, record_dispatch, set_closed
from pydantic import ByteSize

from responder.notifications.outbox import OUTBOX_FILE, NewMessage, OutboxStore
from responder.retention import (
    EvidenceRetention,
    OutboxRetention,
    StoreReport,
    prune_evidence,
    prune_outbox,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

KIB = 1024


def open_incidents(data_dir: Path, states: Mapping[str, tuple[str, float]]) -> None:
    """Incidents by id, each in its state, released or finished that many days ago."""
    record_dispatch(data_dir, cursor=0, opened=[incident(i, f"E{i}") for i in states])
    for incident_id, (state, days) in states.items():
        set_closed(data_dir, incident_id, state, days)


def evidence(data_dir: Path, rules: EvidenceRetention, *, dry_run: bool = False) -> StoreReport:
    """One real pass over the evidence."""
    return prune_evidence(data_dir, rules, rest=lambda: True, dry_run=dry_run)


def left(data_dir: Path) -> set[str]:
    """The evidence directories still there."""
    return {p.name for p in (data_dir / "evidence").iterdir()}


def test_evidence_released_long_ago_goes(tmp_path: Path) -> None:
    """Released and never-contained incidents' evidence older than max_age goes; newer stays."""
    open_incidents(
        tmp_path,
        {"OLD": ("released", 100), "FAILED": ("failed", 100), "NEW": ("released", 10)},
    )
    for name in ("OLD", "FAILED", "NEW"):
        add_evidence(tmp_path, name, 4 * KIB)
    report = evidence(tmp_path, EvidenceRetention(max_age=timedelta(days=90), max_bytes=None))
    assert left(tmp_path) == {"NEW"}
    assert report.count == 2
    assert report.bytes >= 2 * 4 * KIB


@pytest.mark.parametrize(
    "state", ["running", "contained", "partially contained", "partially released"]
)
def test_evidence_of_a_held_container_never_goes(tmp_path: Path, state: str) -> None:
    """Whatever its age and the budget, the evidence of an incident still holding stays."""
    open_incidents(tmp_path, {"HELD": (state, 1000)})
    add_evidence(tmp_path, "HELD", 200 * KIB)
    rules = EvidenceRetention(max_age=timedelta(days=1), max_bytes=ByteSize(64 * KIB))
    report = evidence(tmp_path, rules)
    assert left(tmp_path) == {"HELD"}
    assert "open, contained or not fully released" in report.over_budget


def test_evidence_of_no_known_incident_stays(tmp_path: Path) -> None:
    """A directory whose name is no incident of this store is never removed."""
    open_incidents(tmp_path, {"A": ("released", 1000)})
    add_evidence(tmp_path, "A", 4 * KIB)
    add_evidence(tmp_path, "STRANGER", 4 * KIB)
    evidence(tmp_path, EvidenceRetention(max_age=timedelta(days=1), max_bytes=None))
    assert left(tmp_path) == {"STRANGER"}


def test_over_the_evidence_budget_the_oldest_released_go_first(tmp_path: Path) -> None:
    """Over budget, released evidence goes oldest release first until the rest fits."""
    states = {f"R{n}": ("released", 50 - n) for n in range(6)} | {"C": ("contained", 60)}
    open_incidents(tmp_path, states)
    for name in states:
        add_evidence(tmp_path, name, 40 * KIB)
    report = evidence(tmp_path, EvidenceRetention(max_age=None, max_bytes=ByteSize(130 * KIB)))
    assert left(tmp_path) == {"C", "R4", "R5"}
    assert report.size_after <= 130 * KIB
    assert not report.over_budget


def test_evidence_dry_run_changes_nothing(tmp_path: Path) -> None:
    """A dry run lists what would go and removes nothing."""
    open_incidents(tmp_path, {"A": ("released", 1000), "B": ("released", 1000)})
    add_evidence(tmp_path, "A", 4 * KIB)
    add_evidence(tmp_path, "B", 4 * KIB)
    report = evidence(tmp_path, EvidenceRetention(max_age=timedelta(days=1)), dry_run=True)
    assert report.count == 2
    assert left(tmp_path) == {"A", "B"}


def outbox_with(data_dir: Path, states: Sequence[tuple[str, float]]) -> None:
    """Outbox rows in these states (`pending`, `sent`, `failed`), created that many days ago."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = OutboxStore(data_dir / OUTBOX_FILE)
    try:
        ids = store.enqueue(
            NewMessage(f"k{n}", "I1", "oncall", "incident", message("I1"))
            for n in range(len(states))
        )
        for row_id, (state, _) in zip(ids, states, strict=True):
            if state == "sent":
                store.sent(row_id, 1, "ok")
            elif state == "failed":
                store.failed(row_id, 5, "refused")
    finally:
        store.close()
    with closing(sqlite3.connect(data_dir / OUTBOX_FILE)) as conn, conn:
        for row_id, (_, days) in zip(ids, states, strict=True):
            at = ago(days).isoformat()
            conn.execute(
                "UPDATE outbox SET created_at = ?, sent_at = CASE WHEN sent_at IS NULL "
                "THEN NULL ELSE ? END WHERE id = ?",
                (at, at, row_id),
            )


def outbox_states(data_dir: Path) -> list[str]:
    """The state of every row still in the outbox, oldest first."""
    with closing(sqlite3.connect(data_dir / OUTBOX_FILE)) as conn:
        return [row[0] for row in conn.execute("SELECT state FROM outbox ORDER BY id")]


def test_delivered_and_given_up_rows_go_by_age_and_pending_rows_stay(tmp_path: Path) -> None:
    """Old sent and failed rows go; an old pending row and recent rows stay."""
    outbox_with(
        tmp_path,
        [("sent", 40)] * 9 + [("failed", 40), ("pending", 400), ("sent", 1), ("failed", 1)],
    )
    report = prune_outbox(
        tmp_path, OutboxRetention(max_age=timedelta(days=30)), batch=4, rest=lambda: True
    )
    assert outbox_states(tmp_path) == ["pending", "sent", "failed"]
    assert report.count == 10


def test_outbox_dry_run_changes_nothing(tmp_path: Path) -> None:
    """A dry run counts the rows that would go and deletes none."""
    outbox_with(tmp_path, [("sent", 40), ("pending", 40)])
    report = prune_outbox(tmp_path, OutboxRetention(), batch=4, rest=lambda: True, dry_run=True)
    assert report.count == 1
    assert outbox_states(tmp_path) == ["sent", "pending"]
