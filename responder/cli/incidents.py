"""`responder incidents [ID]`: incidents newest first, or one with every step and release."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

from responder.cli._common import emit_json, print_table, say, settings_from
from responder.incidents import INCIDENTS_FILE, Incidents
from responder.notifications.outbox import OUTBOX_FILE, OutboxStore

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

    from responder.cli._types import Subparsers
    from responder.incidents import IncidentRecord
    from responder.notifications.outbox import OutboxRecord
    from responder.settings import Settings

__all__ = ["register"]


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add `incidents`."""
    parser = commands.add_parser(
        "incidents", parents=[parent], help="list incidents or show one", description=__doc__
    )
    parser.add_argument("incident_id", nargs="?", metavar="ID", help="show this incident in full")
    parser.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


_NOT_LISTED = {"steps", "releases"}
"""Left out of a listing, as `GET /v1/incidents` leaves them out: `incidents ID` has them."""


async def _read_one(incidents: Incidents, incident_id: str) -> IncidentRecord | None:
    await incidents.open()
    try:
        return await incidents.run(lambda store: store.get(incident_id))
    finally:
        await incidents.close()


async def _read_page(incidents: Incidents, limit: int) -> list[IncidentRecord]:
    await incidents.open()
    try:
        return await incidents.run(lambda store: store.list(limit))
    finally:
        await incidents.close()


def _notifications(data_dir: Path, incident_id: str) -> list[OutboxRecord]:
    """The incident's queued messages; none when there is no outbox yet (nothing was sent)."""
    path = data_dir / OUTBOX_FILE
    if not path.exists():
        return []
    store = OutboxStore(path)
    try:
        return store.for_incident(incident_id)
    finally:
        store.close()


def _show(record: IncidentRecord, release_command: str, sent: list[OutboxRecord]) -> None:
    say(f"incident {record.id}: {record.state}{f' ({record.reason})' if record.reason else ''}\n")
    say(
        f"  playbook {record.playbook} ({record.playbook_file}, version {record.playbook_digest[:12]})\n"
    )
    say(
        f"  target {record.container_name or record.target or 'none'} image {record.image or '-'}\n"
    )
    say(
        f"  {record.event_count} events {record.event_source} {record.event_name!r} "
        f"first {record.first_seen} last {record.last_seen}\n"
    )
    for step in record.steps:
        took = f"{step.duration_ms:.0f} ms" if step.duration_ms is not None else "-"
        say(f"  {step.index + 1}. {step.action:<16} {step.status:<8} {took:>8}  {step.detail}\n")
    for release in record.releases:
        say(
            f"  release {release.number} at {release.at} by {release.requested_by}: "
            f"{release.state}\n"
        )
        for undone in release.steps:
            say(f"     {undone.index + 1}. {undone.action}: {undone.status}: {undone.detail}\n")
    for row in sent:
        tries = f"{row.attempts} attempt{'s' if row.attempts != 1 else ''}"
        why = f": {row.last_error}" if row.state != "sent" and row.last_error else ""
        say(
            f"  message #{row.id} to {row.channel} ({row.message.kind}): {row.state}, {tries}{why}\n"
        )
    if record.awaits_release():
        say(f"  undo: {release_command}\n")


def _one(args: argparse.Namespace, settings: Settings) -> int:
    """One incident in full: every step, every release, every message."""
    record = asyncio.run(_read_one(Incidents(settings.data_dir), args.incident_id))
    if record is None:
        sys.stderr.write(f"responder: no incident {args.incident_id}\n")
        return 1
    sent = _notifications(settings.data_dir, record.id)
    release_command = settings.release_command(record.id)
    if args.json:
        emit_json(
            record.model_dump(mode="json")
            | {
                "release_command": release_command,
                "notifications": [row.delivery() for row in sent],
            }
        )
    else:
        _show(record, release_command, sent)
    return 0


def run(args: argparse.Namespace) -> int:
    """Print incidents."""
    settings = settings_from(args)
    if not (settings.data_dir / INCIDENTS_FILE).exists():
        sys.stderr.write(f"responder: no incidents in {settings.data_dir}\n")
        return 1
    if args.incident_id:
        return _one(args, settings)
    records = asyncio.run(_read_page(Incidents(settings.data_dir), args.limit))
    if args.json:
        emit_json([r.model_dump(mode="json", exclude=_NOT_LISTED) for r in records])
        return 0
    headers = ["ID", "OPENED", "STATE", "PLAYBOOK", "TARGET", "EVENTS", "PRIORITY"]
    rows = [
        [
            r.id,
            r.opened_at[:19],
            r.state,
            r.playbook,
            r.container_name or r.target or "-",
            str(r.event_count),
            r.priority,
        ]
        for r in records
    ]
    print_table(headers, rows)
    return 0
