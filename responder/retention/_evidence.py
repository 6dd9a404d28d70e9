"""Evidence pruning: whole directories of released (or never contained) incidents, oldest first.

The evidence of an incident that is running, contained, partially contained or only partially
released never goes: the container may still be held, and the evidence is why. Directory names
are read from the disk and looked up in the incident store; one without an incident stays.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from responder.durations import format_duration
from responder.incidents import INCIDENTS_FILE
from responder.retention._report import StoreReport

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from responder.retention._settings import EvidenceRetention

__all__ = ["CLOSED_STATES", "prune_evidence"]

log = logging.getLogger(__name__)

CLOSED_STATES = frozenset(
    {"released", "failed", "notified", "dry-run", "protected", "held", "resolved"}
)
"""States in which the container is not held by us: their evidence may go."""


@dataclass(frozen=True, slots=True)
class _Dir:
    path: Path
    size: int
    closed_at: str | None
    """When the incident was released (or finished, never having changed the container)."""


def _size(path: Path) -> int:
    """Bytes of every file under `path`, links not followed."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512  # noqa: PTH118 - os.walk's strings
    return total


def _closed_times(data_dir: Path) -> dict[str, str]:
    """Incident id -> when it was closed, for every incident whose evidence may go."""
    path = data_dir / INCIDENTS_FILE
    if not path.exists():
        return {}
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    with closing(conn):
        conn.execute("PRAGMA busy_timeout = 5000")
        marks = ",".join("?" * len(CLOSED_STATES))
        rows = conn.execute(
            "SELECT id, coalesce(released_at, finished_at, opened_at) FROM incidents "  # noqa: S608 - placeholders only
            f"WHERE state IN ({marks})",
            sorted(CLOSED_STATES),
        ).fetchall()
    return {incident_id: str(at) for incident_id, at in rows}


def _directories(data_dir: Path) -> list[_Dir]:
    root = data_dir / "evidence"
    if not root.is_dir():
        return []
    closed = _closed_times(data_dir)
    found = []
    for entry in os.scandir(root):
        if entry.is_dir(follow_symlinks=False):
            path = root / entry.name
            found.append(_Dir(path, _size(path), closed.get(entry.name)))
    return found


def _remove(path: Path) -> bool:
    """Delete one directory unless a snapshot holds its lock now; True once it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        shutil.rmtree(path)
    except OSError as exc:
        log.warning("retention: cannot remove evidence %s: %s", path, exc)
        return False
    finally:
        os.close(fd)
    return True


# Long on purpose: the two rules in order over one listing, then what had to stay.
def prune_evidence(
    data_dir: Path,
    rules: EvidenceRetention,
    *,
    rest: Callable[[], bool],
    dry_run: bool = False,
) -> StoreReport:
    """Prune (or, dry, list) evidence directories; `rest()` runs between two, False stops."""
    report = StoreReport("evidence")
    dirs = _directories(data_dir)
    total = report.size_before = sum(d.size for d in dirs)
    candidates = sorted(
        (d for d in dirs if d.closed_at is not None), key=lambda d: d.closed_at or ""
    )
    cutoff = aged = None
    if rules.max_age is not None:
        cutoff = (datetime.now(UTC) - rules.max_age).isoformat()
        aged = f"released or closed more than {format_duration(rules.max_age)} ago"
    budget = int(rules.max_bytes) if rules.max_bytes is not None else None
    for d in candidates:
        if aged is not None and cutoff is not None and d.closed_at and d.closed_at < cutoff:
            reason = aged
        elif budget is not None and total > budget:
            reason = f"over the evidence budget of {budget} bytes, oldest released first"
        else:
            continue
        if dry_run or _remove(d.path):
            report.add(reason, 1, d.size)
            total -= d.size
        if not dry_run and not rest():
            break
    report.size_after = total
    if budget is not None and total > budget:
        held = sum(d.size for d in dirs if d.closed_at is None)
        report.over_budget = (
            f"evidence stays over its {budget} byte budget: {held} bytes belong to incidents "
            "that are open, contained or not fully released (or to no known incident)"
        )
        report.over_budget_bytes = total - budget
        log.warning("retention: %s", report.over_budget)
    return report
