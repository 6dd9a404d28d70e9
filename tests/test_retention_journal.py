"""Journal retention on real SQLite files: what goes by age and size, and what never goes."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from typing import TYPE_CHECKING

from _retention import event_ids, incident, journal_of, old_event, record_dispatch
from pydantic import ByteSize

from responder.incidents import INCIDENTS_FILE
from responder.journal import JOURNAL_FILE
from responder.retention import JournalRetention, StoreReport, journal_over_budget, prune_journal

if TYPE_CHECKING:
    from pathlib import Path

AGE_ONLY = JournalRetention(max_age=timedelta(days=30), max_bytes=None)


def prune(
    data_dir: Path, rules: JournalRetention = AGE_ONLY, *, dry_run: bool = False
) -> StoreReport:
    """One real pass over the journal, in batches of 7 (so several batches run)."""
    return prune_journal(data_dir, rules, batch=7, rest=lambda: True, dry_run=dry_run)


async def test_old_processed_events_go_and_recent_ones_stay(tmp_path: Path) -> None:
    """Events older than max_age that the worker has processed are deleted; newer ones stay."""
    events = [old_event(n, 40) for n in range(20)] + [old_event(n, 1) for n in range(20, 25)]
    await journal_of(tmp_path, events)
    record_dispatch(tmp_path, cursor=25)
    report = prune(tmp_path)
    assert event_ids(tmp_path) == [e.id for e in events[20:]]
    assert report.count == 20
    assert report.bytes > 0


async def test_incident_events_stay_whatever_their_age_or_the_budget(tmp_path: Path) -> None:
    """An event that belongs to an incident is kept by both rules, and the budget says so."""
    events = [old_event(n, 400, size=3000) for n in range(60)]
    await journal_of(tmp_path, events)
    record_dispatch(
        tmp_path, cursor=60, opened=[incident("I1", events[3].id), incident("I2", events[50].id)]
    )
    rules = JournalRetention(max_age=timedelta(days=1), max_bytes=ByteSize(64 * 1024))
    prune(tmp_path, rules)
    assert event_ids(tmp_path) == [events[3].id, events[50].id]


async def test_events_past_the_cursor_are_never_pruned(tmp_path: Path) -> None:
    """Unprocessed events stay over any age and budget; the report says the budget is not met."""
    events = [old_event(n, 400, size=4000) for n in range(80)]
    await journal_of(tmp_path, events)
    record_dispatch(tmp_path, cursor=10)
    rules = JournalRetention(max_age=timedelta(days=1), max_bytes=ByteSize(64 * 1024))
    report = prune(tmp_path, rules)
    assert event_ids(tmp_path) == [e.id for e in events[10:]]
    assert "not yet processed" in report.over_budget
    assert report.over_budget_bytes > 0


async def test_a_journal_no_worker_has_followed_keeps_everything(tmp_path: Path) -> None:
    """Without an incident store there is no cursor: nothing is processed, nothing goes."""
    events = [old_event(n, 400) for n in range(5)]
    await journal_of(tmp_path, events)
    assert prune(tmp_path).count == 0
    assert len(event_ids(tmp_path)) == 5


async def test_deferred_and_quarantined_events_stay(tmp_path: Path) -> None:
    """Events behind the cursor but deferred (or set aside) are not pruned."""
    events = [old_event(n, 400) for n in range(10)]
    await journal_of(tmp_path, events)
    record_dispatch(
        tmp_path, cursor=10, deferred=[(2, events[1].id)], quarantined=[(8, events[7].id)]
    )
    prune(tmp_path)
    assert event_ids(tmp_path) == [events[1].id, events[7].id]


async def test_over_the_size_budget_the_oldest_processed_events_go_first(tmp_path: Path) -> None:
    """Recent events over the budget go oldest first until the file's used bytes fit."""
    events = [old_event(n, 0.01, size=2000) for n in range(300)]
    await journal_of(tmp_path, events)
    record_dispatch(tmp_path, cursor=300)
    budget = 256 * 1024
    report = prune(tmp_path, JournalRetention(max_age=None, max_bytes=ByteSize(budget)))
    left = event_ids(tmp_path)
    assert 0 < len(left) < 300
    assert left == [e.id for e in events[-len(left) :]]  # the newest stay
    assert report.size_before > budget >= report.size_after
    assert not report.over_budget


async def test_dry_run_changes_nothing_and_counts_what_a_real_pass_removes(tmp_path: Path) -> None:
    """`dry_run` deletes nothing and counts exactly the events the age rule then deletes."""
    events = [old_event(n, 40) for n in range(30)] + [old_event(n, 1) for n in range(30, 33)]
    await journal_of(tmp_path, events)
    record_dispatch(tmp_path, cursor=33, opened=[incident("I1", events[0].id)])
    dry = prune(tmp_path, dry_run=True)
    assert len(event_ids(tmp_path)) == 33
    real = prune(tmp_path)
    assert (dry.count, dry.bytes) == (real.count, real.bytes) == (29, real.bytes)


def _file_pages(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(conn.execute("PRAGMA page_count").fetchone()[0])


async def test_a_new_journal_gets_smaller_after_pruning(tmp_path: Path) -> None:
    """A journal created now has incremental vacuum: pruned pages go back to the file system."""
    await journal_of(tmp_path, [old_event(n, 40, size=2000) for n in range(400)])
    record_dispatch(tmp_path, cursor=400)
    before = _file_pages(tmp_path / JOURNAL_FILE)
    prune(tmp_path)
    assert _file_pages(tmp_path / JOURNAL_FILE) < before // 4


async def test_an_old_journal_without_auto_vacuum_opens_and_stops_growing(tmp_path: Path) -> None:
    """A journal made before retention opens as it is; its freed pages are reused, not added."""
    path = tmp_path / JOURNAL_FILE
    with closing(sqlite3.connect(path)) as conn:  # as the previous release created it
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE probe (x)")  # any table first: auto_vacuum can no longer change
    for round_ in range(3):
        cursor = 200 * (round_ + 1)
        await journal_of(tmp_path, [old_event(n, 40, size=2000) for n in range(200)])
        record_dispatch(tmp_path, cursor=cursor)
        if round_ == 0:
            prune(tmp_path)
            high = _file_pages(path)
        else:
            prune(tmp_path)
            assert _file_pages(path) <= high + 8  # a few index pages, never another round's worth
    assert event_ids(tmp_path) == []


async def test_an_incident_store_from_before_deferral_still_guards_its_events(
    tmp_path: Path,
) -> None:
    """A store with only the old tables (no deferred, no quarantine) is read as it is."""
    events = [old_event(n, 400) for n in range(6)]
    await journal_of(tmp_path, events)
    with closing(sqlite3.connect(tmp_path / INCIDENTS_FILE)) as conn, conn:
        conn.execute("CREATE TABLE worker (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("CREATE TABLE incident_events (incident_id TEXT, event_id TEXT)")
        conn.execute("INSERT INTO worker VALUES ('cursor', '4')")
        conn.execute("INSERT INTO incident_events VALUES ('I1', ?)", (events[1].id,))
    prune(tmp_path)
    assert event_ids(tmp_path) == [events[1].id, events[4].id, events[5].id]


async def test_over_budget_is_seen_without_a_pass(tmp_path: Path) -> None:
    """The cheap check the service makes between passes says when the journal is over budget."""
    await journal_of(tmp_path, [old_event(n, 0, size=2000) for n in range(100)])
    assert journal_over_budget(tmp_path, JournalRetention(max_bytes=ByteSize(64 * 1024)))
    assert not journal_over_budget(tmp_path, JournalRetention(max_bytes=ByteSize(1 << 30)))
    assert not journal_over_budget(tmp_path, JournalRetention(max_bytes=None))
