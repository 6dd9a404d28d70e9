"""One pruning pass over every store, and how it is told: an audit record, metrics, a log line."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from responder.retention._evidence import prune_evidence
from responder.retention._journal import prune_journal
from responder.retention._outbox import prune_outbox

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from responder.audit import AuditLog
    from responder.metrics import Metrics
    from responder.retention._report import StoreReport
    from responder.retention._settings import RetentionSettings

__all__ = ["StorePruner", "prune_all", "publish"]

log = logging.getLogger(__name__)


class StorePruner(Protocol):
    """One more store to prune in the same pass (the audit trail's old segments)."""

    def __call__(self, data_dir: Path, *, rest: Callable[[], bool], dry_run: bool) -> StoreReport:
        """Prune (or, dry, list) what would go; `rest()` between steps, False stops."""


def prune_all(
    data_dir: Path,
    settings: RetentionSettings,
    *,
    rest: Callable[[], bool],
    dry_run: bool = False,
    more: Sequence[StorePruner] = (),
) -> list[StoreReport]:
    """Every store in turn: journal, evidence, outbox, then `more` (the audit trail's segments)."""
    reports = [
        prune_journal(data_dir, settings.journal, batch=settings.batch, rest=rest, dry_run=dry_run),
        prune_evidence(data_dir, settings.evidence, rest=rest, dry_run=dry_run),
        prune_outbox(data_dir, settings.outbox, batch=settings.batch, rest=rest, dry_run=dry_run),
    ]
    reports.extend(prune(data_dir, rest=rest, dry_run=dry_run) for prune in more)
    return reports


def publish(
    reports: Sequence[StoreReport],
    *,
    audit: AuditLog,
    metrics: Metrics | None,
    took: float = 0.0,
) -> None:
    """After a real pass: one `retention.pruned` audit record, the counters, a log line."""
    if metrics is not None:
        for report in reports:
            metrics.pruned.labels(report.store).inc(report.count)
            metrics.retention_over_budget.labels(report.store).set(report.over_budget_bytes)
    gone = {r.store: {"count": r.count, "bytes": r.bytes} for r in reports if r.count}
    if not gone:
        return
    audit.record(
        "retention.pruned",
        stores=gone,
        over_budget=[r.over_budget for r in reports if r.over_budget],
    )
    log.info(
        "retention: pruned %s in %.2f s",
        ", ".join(f"{store} {v['count']} ({v['bytes']} bytes)" for store, v in gone.items()),
        took,
    )
