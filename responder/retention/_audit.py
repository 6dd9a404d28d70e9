"""The audit trail's sealed segments in a pass: listed here, deleted by the audit writer itself.

Only the writer may delete a segment: it first writes the `audit.pruned` record and keeps the
pruned-through point outside the file, under the trail's lock, so the kept trail still
verifies. A pass lists what the writer's rules let go; `gc` then writes through a writer with
the same settings, which deletes them with its first line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from responder.audit import AUDIT_FILE, prunable_segments, sealed_bytes
from responder.retention._report import StoreReport

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from responder.audit import AuditSettings
    from responder.retention._pass import StorePruner

__all__ = ["audit_segments"]


def audit_segments(
    settings: AuditSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> StorePruner:
    """The store of sealed audit segments, by `audit.keep_age` and `audit.keep_bytes`."""

    def prune(data_dir: Path, *, rest: Callable[[], bool], dry_run: bool) -> StoreReport:
        del rest, dry_run  # one listing, no batches; the writer deletes (see the module)
        report = StoreReport("audit", size_before=sealed_bytes(data_dir / AUDIT_FILE))
        for item in prunable_segments(data_dir, settings, clock()):
            report.add(item.reason, 1, item.bytes)
        report.size_after = report.size_before - report.bytes
        return report

    return prune
