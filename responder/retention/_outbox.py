"""Outbox pruning: rows delivered (or finally given up) long enough ago; pending rows stay."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from responder.durations import format_duration
from responder.notifications.outbox import OUTBOX_FILE
from responder.retention._pages import used_bytes
from responder.retention._report import StoreReport

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from responder.retention._settings import OutboxRetention

__all__ = ["prune_outbox"]

_ELIGIBLE = "state IN ('sent', 'failed') AND coalesce(sent_at, created_at) < ?"


def prune_outbox(
    data_dir: Path,
    rules: OutboxRetention,
    *,
    batch: int,
    rest: Callable[[], bool],
    dry_run: bool = False,
) -> StoreReport:
    """Prune (or, dry, count) old delivered rows in batches; `rest()` between, False stops."""
    report = StoreReport("outbox")
    path = data_dir / OUTBOX_FILE
    if not path.exists() or rules.max_age is None:
        return report
    cutoff = (datetime.now(UTC) - rules.max_age).isoformat()
    reason = f"delivered or given up, created more than {format_duration(rules.max_age)} ago"
    conn = sqlite3.connect(path, isolation_level=None)
    with closing(conn):
        conn.execute("PRAGMA busy_timeout = 10000")
        report.size_before = used_bytes(conn)
        if dry_run:
            count, size = conn.execute(
                f"SELECT count(*), coalesce(sum(length(message)), 0) FROM outbox WHERE {_ELIGIBLE}",  # noqa: S608 - our own SQL
                (cutoff,),
            ).fetchone()
            report.add(reason, int(count), int(size))
        else:
            while sizes := conn.execute(
                f"DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE {_ELIGIBLE} "  # noqa: S608 - our own SQL
                "ORDER BY id LIMIT ?) RETURNING length(message)",
                (cutoff, batch),
            ).fetchall():
                report.add(reason, len(sizes), sum(s for (s,) in sizes))
                if not rest():
                    break
        report.size_after = used_bytes(conn)
    return report
