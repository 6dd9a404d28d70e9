"""`responder gc [--dry-run]`: prune the data directory now, as the service does in the background."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING

from responder.audit import AUDIT_FILE, AuditLog
from responder.cli._common import emit_json, say, settings_from
from responder.errors import ConfigError
from responder.incidents import INCIDENTS_FILE, AuditAnchor
from responder.retention import StorePruner, StoreReport, audit_segments, prune_all, publish

if TYPE_CHECKING:
    import argparse

    from responder.cli._types import Subparsers
    from responder.settings import Settings

__all__ = ["register"]

_UNITS = {
    "journal": "events",
    "evidence": "directories",
    "outbox": "messages",
    "audit": "sealed segments",
}


def _more(settings: Settings) -> tuple[StorePruner, ...]:
    """The stores beyond retention's own: the audit trail's sealed segments."""
    return (audit_segments(settings.audit),)


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add `gc`."""
    parser = commands.add_parser(
        "gc", parents=[parent], help="prune what retention lets go, now", description=__doc__
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would go, per store; change nothing"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


async def _prune(settings: Settings) -> list[StoreReport]:
    """A real pass, in a thread, recorded in the audit trail like the service's.

    The pass runs before the audit writer opens: the writer, with the trail's settings, deletes
    the sealed segments the pass listed (after its `audit.pruned` line), and opening it first
    would delete them before the pass could count them.
    """
    pause = settings.retention.pause.total_seconds()

    def rest() -> bool:
        time.sleep(pause)  # the server may be running: its commits go between two batches
        return True

    reports = await asyncio.to_thread(
        prune_all, settings.data_dir, settings.retention, rest=rest, more=_more(settings)
    )
    anchor = AuditAnchor(settings.data_dir / INCIDENTS_FILE)
    audit = AuditLog(settings.data_dir / AUDIT_FILE, anchor=anchor, settings=settings.audit)
    await audit.open()
    try:
        publish(reports, audit=audit, metrics=None)
    finally:
        await audit.close()
        await asyncio.to_thread(anchor.close)
    return reports


def run(args: argparse.Namespace) -> int:
    """Exit 0 whether or not anything went; 2 when there is no data directory."""
    settings = settings_from(args)
    if not settings.data_dir.is_dir():
        raise ConfigError(f"no data directory at {settings.data_dir}")
    if args.dry_run:
        reports = prune_all(
            settings.data_dir,
            settings.retention,
            rest=lambda: True,
            dry_run=True,
            more=_more(settings),
        )
    else:
        reports = asyncio.run(_prune(settings))
    if args.json:
        emit_json({"dry_run": args.dry_run, "stores": [r.to_json() for r in reports]})
        return 0
    for report in reports:
        _print(report, dry_run=args.dry_run)
    return 0


def _print(report: StoreReport, *, dry_run: bool) -> None:
    unit = _UNITS.get(report.store, "items")
    verb = "would remove" if dry_run else "removed"
    say(
        f"{report.store}: {verb} {report.count} {unit}, {report.bytes} bytes "
        f"(in use: {report.size_before} bytes before)"
    )
    for removal in report.removals:
        if removal.count:
            say(f"  {removal.count} {unit}, {removal.bytes} bytes: {removal.reason}")
    if report.over_budget:
        sys.stdout.write(f"  kept over budget by {report.over_budget_bytes} bytes: ")
        say(report.over_budget)
