"""Journal pruning: old events, then the oldest over the size budget, never one that must stay.

An event stays, whatever its age or the budget, while it belongs to an incident, while the
worker has not processed it (past its cursor, or deferred), or while it is quarantined. Once
per pass, in one read snapshot of the incident store, the cursor is read and the events to keep
are copied into indexed temporary tables: the journal's write lock is then only ever held for
one short DELETE of at most `batch` rows, found by sequence number from where the last stopped.
"""

from __future__ import annotations

import logging
from contextlib import closing
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from responder.durations import format_duration
from responder.incidents import INCIDENTS_FILE
from responder.journal import JOURNAL_FILE, connect
from responder.retention._pages import used_bytes
from responder.retention._report import StoreReport

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable
    from pathlib import Path

    from responder.retention._settings import JournalRetention

__all__ = ["journal_over_budget", "prune_journal"]

log = logging.getLogger(__name__)

_VACUUM_PAGES = 256
"""Pages handed back to the file system per incremental-vacuum step (1 MiB at 4 KiB a page)."""
_ELIGIBLE = (
    "seq > ? AND seq <= ? AND seq NOT IN (SELECT seq FROM temp.keep_seqs) "
    "AND id NOT IN (SELECT id FROM temp.keep_ids)"
)
_KEEP = {
    "incident_events": "INSERT OR IGNORE INTO temp.keep_ids SELECT event_id FROM inc.incident_events",
    "deferred": "INSERT OR IGNORE INTO temp.keep_seqs SELECT seq FROM inc.deferred",
    "quarantine": "INSERT OR IGNORE INTO temp.keep_seqs SELECT seq FROM inc.quarantine",
}


def _snapshot(conn: sqlite3.Connection, data_dir: Path) -> int:
    """The worker's cursor, and what to keep below it, read in one snapshot of the store."""
    conn.execute("CREATE TEMP TABLE keep_ids (id TEXT PRIMARY KEY) WITHOUT ROWID")
    conn.execute("CREATE TEMP TABLE keep_seqs (seq INTEGER PRIMARY KEY)")
    incidents = data_dir / INCIDENTS_FILE
    if not incidents.exists():  # no worker has ever run here: nothing is processed
        return 0
    conn.execute("ATTACH DATABASE ? AS inc", (str(incidents),))
    try:
        conn.execute("BEGIN")  # deferred: reads the store, writes only temporary tables
        tables = {r[0] for r in conn.execute("SELECT name FROM inc.sqlite_master")}
        cursor = 0
        if "worker" in tables:
            row = conn.execute("SELECT value FROM inc.worker WHERE key = 'cursor'").fetchone()
            cursor = int(row[0]) if row else 0
        for table, copy in _KEEP.items():
            if table in tables:
                conn.execute(copy)
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute("DETACH DATABASE inc")
    return cursor


class _Journal:
    """One pass over one journal file, on its own connection."""

    def __init__(self, conn: sqlite3.Connection, cursor: int, batch: int) -> None:
        self.conn = conn
        self.cursor = cursor
        self.batch = batch
        self.after = 0
        """Every event up to here is gone or must stay: the next batch starts past it."""

    def total(self) -> int:
        """How many events the journal holds."""
        return int(self.conn.execute("SELECT count(*) FROM events").fetchone()[0])

    def boundary(self, cutoff: str) -> int:
        """The first processed event received at or after `cutoff` (a read: no lock held)."""
        row = self.conn.execute(
            "SELECT seq FROM events WHERE seq <= ? AND received_at >= ? ORDER BY seq LIMIT 1",
            (self.cursor, cutoff),
        ).fetchone()
        return int(row[0]) if row else self.cursor + 1

    def measure(self, below: int, limit: int = -1) -> tuple[int, int]:
        """How many may go below seq `below`, oldest first up to `limit`, and their bytes."""
        count, size = self.conn.execute(
            f"SELECT count(*), coalesce(sum(length(body)), 0) FROM (SELECT body FROM events WHERE "  # noqa: S608 - our own SQL
            f"{_ELIGIBLE} AND seq < ? ORDER BY seq LIMIT ?)",
            (0, self.cursor, below, limit),
        ).fetchone()
        return int(count), int(size)

    def delete(self, below: int) -> tuple[int, int]:
        """Delete one batch of the oldest that may go below seq `below`: one short transaction."""
        rows = self.conn.execute(
            f"DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE {_ELIGIBLE} "  # noqa: S608 - our own SQL
            "AND seq < ? ORDER BY seq LIMIT ?) RETURNING seq, length(body)",
            (self.after, self.cursor, below, self.batch),
        ).fetchall()
        if rows:
            self.after = max(seq for seq, _ in rows)
        return len(rows), sum(size for _, size in rows)

    def held(self) -> str:
        """What keeps the journal over its budget: the events that must stay."""
        staying = self.total() - self.measure(self.cursor + 1)[0]
        return (
            f"{staying} events must stay (they belong to an incident, are not yet processed "
            "by the worker, or are deferred or quarantined)"
        )


def prune_journal(
    data_dir: Path,
    rules: JournalRetention,
    *,
    batch: int,
    rest: Callable[[], bool],
    dry_run: bool = False,
) -> StoreReport:
    """Prune (or, dry, measure) the journal; `rest()` runs between batches, False stops the pass."""
    report = StoreReport("journal")
    path = data_dir / JOURNAL_FILE
    if not path.exists():
        return report
    with closing(connect(path)) as conn:
        journal = _Journal(conn, _snapshot(conn, data_dir), batch)
        report.size_before = used_bytes(journal.conn)
        if rules.max_age is not None:
            below = journal.boundary((datetime.now(UTC) - rules.max_age).isoformat())
            reason = f"received more than {format_duration(rules.max_age)} ago"
            if dry_run:
                report.add(reason, *journal.measure(below))
            else:
                _batches(journal, report, reason, below, rest)
        if rules.max_bytes is not None:
            _over_budget(journal, report, int(rules.max_bytes), rest=rest, dry_run=dry_run)
        if not dry_run:
            _reclaim(journal, rest)
        report.size_after = used_bytes(journal.conn)
    return report


def _batches(
    journal: _Journal, report: StoreReport, reason: str, below: int, rest: Callable[[], bool]
) -> bool:
    """Delete below `below` batch by batch; False when `rest()` asked to stop."""
    while (done := journal.delete(below))[0]:
        report.add(reason, *done)
        if not rest():
            return False
    return True


def _over_budget(
    journal: _Journal, report: StoreReport, budget: int, *, rest: Callable[[], bool], dry_run: bool
) -> None:
    """The oldest events that may go, go until the file's used bytes are within the budget."""
    reason = f"over the journal's {budget} byte budget, oldest first"
    everything = journal.cursor + 1
    if dry_run:
        per_event = max(1, report.size_before // max(1, journal.total()))
        used = report.size_before - report.count * per_event
        if used > budget:
            wanted = report.count + -(-(used - budget) // per_event)
            count, size = journal.measure(everything, limit=wanted)
            report.add(reason, count - report.count, size - report.bytes)
            used -= (count - report.count) * per_event
    else:
        used = used_bytes(journal.conn)
        while used > budget:
            count, size = journal.delete(everything)
            if not count:
                break
            report.add(reason, count, size)
            used = used_bytes(journal.conn)
            if not rest():
                return
    if used > budget:
        report.over_budget = f"the journal stays over its {budget} byte budget: {journal.held()}"
        report.over_budget_bytes = used - budget
        log.warning("retention: %s", report.over_budget)


def journal_over_budget(data_dir: Path, rules: JournalRetention) -> bool:
    """Whether the journal's pages in use exceed its budget now: a cheap read, no pass."""
    path = data_dir / JOURNAL_FILE
    if rules.max_bytes is None or not path.exists():
        return False
    with closing(connect(path, readonly=True)) as conn:
        return used_bytes(conn) > int(rules.max_bytes)


def _reclaim(journal: _Journal, rest: Callable[[], bool]) -> None:
    """Give free pages back to the file system, a little at a time, when the file allows it.

    A journal created before retention has no incremental vacuum: its free pages are reused by
    new events instead, so the file stops growing but does not shrink.
    """
    (mode,) = journal.conn.execute("PRAGMA main.auto_vacuum").fetchone()
    if mode != 2:  # noqa: PLR2004 - 2 is INCREMENTAL
        return
    while journal.conn.execute("PRAGMA main.freelist_count").fetchone()[0]:
        # As a script: `execute` steps a pragma once, and each step frees a single page.
        journal.conn.executescript(f"PRAGMA main.incremental_vacuum({_VACUUM_PAGES});")
        if not rest():
            return
    # The file is cut short when a checkpoint copies the whole WAL back; try one now (it
    # waits for nobody: under steady intake a later automatic one finishes the job).
    journal.conn.execute("PRAGMA main.wal_checkpoint(PASSIVE)").fetchall()
