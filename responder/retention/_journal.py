"""Journal pruning: old events, then the oldest over the size budget, never one that must stay.

An event stays, whatever its age or the budget, while it belongs to an incident, while the
worker has not processed it (past its cursor, or deferred), or while it is quarantined. The
incident store says which: it is attached read-only-by-use, and each DELETE reads the cursor and
the incident's events in the same statement, so one consistent snapshot decides each batch.
"""

from __future__ import annotations

import logging
from contextlib import closing
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from responder.durations import format_duration
from responder.incidents import INCIDENTS_FILE
from responder.journal import JOURNAL_FILE, connect
from responder.retention._report import StoreReport

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable
    from pathlib import Path

    from responder.retention._settings import JournalRetention

__all__ = ["prune_journal"]

log = logging.getLogger(__name__)

_VACUUM_PAGES = 256
"""Pages handed back to the file system per incremental-vacuum step (1 MiB at 4 KiB a page)."""


def _eligible(tables: set[str]) -> str:
    """The SQL condition of an event that may go, given the incident store's tables."""
    if "worker" not in tables:  # no worker has ever run here: nothing is processed
        return "0"
    cursor = "SELECT coalesce(max(CAST(value AS INTEGER)), 0) FROM inc.worker WHERE key = 'cursor'"
    parts = [f"seq <= ({cursor})"]
    if "deferred" in tables:
        parts.append("seq NOT IN (SELECT seq FROM inc.deferred)")
    if "quarantine" in tables:
        parts.append("seq NOT IN (SELECT seq FROM inc.quarantine)")
    if "incident_events" in tables:
        parts.append("id NOT IN (SELECT event_id FROM inc.incident_events)")
    return " AND ".join(parts)


class _Journal:
    """One pass over one journal file, on its own connection."""

    def __init__(self, conn: sqlite3.Connection, eligible: str, batch: int) -> None:
        self.conn = conn
        self.eligible = eligible
        self.batch = batch

    def used(self) -> int:
        """Bytes of the file in use (its pages less the free ones)."""
        (pages,) = self.conn.execute("PRAGMA main.page_count").fetchone()
        (free,) = self.conn.execute("PRAGMA main.freelist_count").fetchone()
        (size,) = self.conn.execute("PRAGMA main.page_size").fetchone()
        return int((pages - free) * size)

    def measure(
        self, extra: str = "1", params: tuple[object, ...] = (), limit: int = -1
    ) -> tuple[int, int]:
        """How many eligible events meet `extra`, oldest first up to `limit`, and their bytes."""
        sql = (
            f"SELECT count(*), coalesce(sum(length(body)), 0) FROM (SELECT body FROM events "  # noqa: S608 - our own SQL
            f"WHERE {self.eligible} AND {extra} ORDER BY seq LIMIT ?)"
        )
        count, size = self.conn.execute(sql, (*params, limit)).fetchone()
        return int(count), int(size)

    def delete(self, extra: str = "1", params: tuple[object, ...] = ()) -> tuple[int, int]:
        """Delete one batch of the oldest eligible events meeting `extra`: one short transaction."""
        sql = (
            f"DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE {self.eligible} "  # noqa: S608 - our own SQL
            f"AND {extra} ORDER BY seq LIMIT ?) RETURNING length(body)"
        )
        sizes = self.conn.execute(sql, (*params, self.batch)).fetchall()
        return len(sizes), sum(size for (size,) in sizes)

    def held(self) -> str:
        """What keeps the journal over its budget: the events that must stay, by reason."""
        total = self.conn.execute("SELECT count(*) FROM events").fetchone()[0]
        prunable = self.measure()[0]
        return (
            f"{total - prunable} events must stay (they belong to an incident, are not yet "
            "processed by the worker, or are deferred or quarantined)"
        )


def _open(data_dir: Path) -> tuple[sqlite3.Connection, str] | None:
    path = data_dir / JOURNAL_FILE
    if not path.exists():
        return None
    conn = connect(path)
    tables: set[str] = set()
    incidents = data_dir / INCIDENTS_FILE
    if incidents.exists():
        conn.execute("ATTACH DATABASE ? AS inc", (str(incidents),))
        tables = {
            row[0]
            for row in conn.execute("SELECT name FROM inc.sqlite_master WHERE type = 'table'")
        }
    return conn, _eligible(tables)


# Long on purpose: the journal's two rules in order, each in batches, then reclaiming the space;
# one place reads best as the order in which things go.
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
    opened = _open(data_dir)
    if opened is None:
        return report
    conn, eligible = opened
    with closing(conn):
        journal = _Journal(conn, eligible, batch)
        report.size_before = journal.used()
        if rules.max_age is not None:
            cutoff = (datetime.now(UTC) - rules.max_age).isoformat()
            reason = f"received more than {format_duration(rules.max_age)} ago"
            if dry_run:
                report.add(reason, *journal.measure("received_at < ?", (cutoff,)))
            else:
                while (done := journal.delete("received_at < ?", (cutoff,)))[0]:
                    report.add(reason, *done)
                    if not rest():
                        break
        if rules.max_bytes is not None:
            _over_budget(journal, report, int(rules.max_bytes), rest=rest, dry_run=dry_run)
        if not dry_run:
            _reclaim(journal, rest)
        report.size_after = journal.used()
    return report


def _over_budget(
    journal: _Journal, report: StoreReport, budget: int, *, rest: Callable[[], bool], dry_run: bool
) -> None:
    """The oldest eligible events go until the file's used bytes are within the budget."""
    reason = f"over the journal's {budget} byte budget, oldest first"
    used = journal.used() if not dry_run else report.size_before - _estimate(journal, report)
    if dry_run and used > budget:
        total = max(1, journal.conn.execute("SELECT count(*) FROM events").fetchone()[0])
        per_event = max(1, report.size_before // total)
        wanted = -(-(used - budget) // per_event)
        gone = report.count
        count, size = journal.measure("1", limit=gone + wanted)
        count, size = count - gone, size - report.bytes
        report.add(reason, count, size)
        used -= count * per_event
    while not dry_run and used > budget:
        count, size = journal.delete()
        if not count:
            break
        report.add(reason, count, size)
        used = journal.used()
        if not rest():
            return
    if used > budget:
        report.over_budget = f"the journal stays over its {budget} byte budget: {journal.held()}"
        report.over_budget_bytes = used - budget
        log.warning("retention: %s", report.over_budget)


def _estimate(journal: _Journal, report: StoreReport) -> int:
    """Dry: about how many bytes the age rule's events take in the file."""
    total = max(1, int(journal.conn.execute("SELECT count(*) FROM events").fetchone()[0]))
    return report.count * report.size_before // total


def _reclaim(journal: _Journal, rest: Callable[[], bool]) -> None:
    """Give free pages back to the file system, a little at a time, when the file allows it.

    A journal created before retention has no incremental vacuum: its free pages are reused by
    new events instead, so the file stops growing but does not shrink.
    """
    (mode,) = journal.conn.execute("PRAGMA main.auto_vacuum").fetchone()
    if mode != 2:  # noqa: PLR2004 - 2 is INCREMENTAL
        return
    while journal.conn.execute("PRAGMA main.freelist_count").fetchone()[0]:
        journal.conn.execute(f"PRAGMA main.incremental_vacuum({_VACUUM_PAGES})").fetchall()
        if not rest():
            return
