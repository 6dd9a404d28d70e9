"""`responder incidents [ID]`: incidents newest first, or one with every step."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

from responder.cli._common import emit_json, print_table, settings_from
from responder.incidents import INCIDENTS_FILE, Incidents
from responder.outbox import OUTBOX_FILE, OutboxStore

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

    from responder.cli._types import Subparsers
    from responder.incidents import IncidentRecord
    from responder.outbox import OutboxRecord

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


async def _read(args: argparse.Namespace, incidents: Incidents) -> list[IncidentRecord]:
    await incidents.open()
    try:
        if args.incident_id:
            found = await incidents.run(lambda store: store.get(args.incident_id))
            return [found] if found else []
        return await incidents.run(lambda store: store.list(args.limit))
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
    out = sys.stdout
    out.write(
        f"incident {record.id}: {record.state}{f' ({record.reason})' if record.reason else ''}\n"
    )
    out.write(
        f"  playbook {record.playbook} ({record.playbook_file}, version {record.playbook_digest[:12]})\n"
    )
    out.write(
        f"  target {record.container_name or record.target or 'none'} image {record.image or '-'}\n"
    )
    out.write(
        f"  {record.event_count} events {record.event_source} {record.event_name!r} "
        f"first {record.first_seen} last {record.last_seen}\n"
    )
    for step in record.steps:
        took = f"{step.duration_ms:.0f} ms" if step.duration_ms is not None else "-"
        out.write(
            f"  {step.index + 1}. {step.action:<16} {step.status:<8} {took:>8}  {step.detail}\n"
        )
        if step.release_status:
            out.write(f"     released: {step.release_status}: {step.release_detail}\n")
    for row in sent:
        tries = f"{row.attempts} attempt{'s' if row.attempts != 1 else ''}"
        why = f": {row.last_error}" if row.state != "sent" and row.last_error else ""
        out.write(
            f"  message #{row.id} to {row.channel} ({row.message.kind}): {row.state}, {tries}{why}\n"
        )
    out.write(f"  undo: {release_command}\n")


def run(args: argparse.Namespace) -> int:
    """Print incidents."""
    settings = settings_from(args)
    if not (settings.data_dir / INCIDENTS_FILE).exists():
        sys.stderr.write(f"responder: no incidents in {settings.data_dir}\n")
        return 1
    records = asyncio.run(_read(args, Incidents(settings.data_dir)))
    if args.incident_id and not records:
        sys.stderr.write(f"responder: no incident {args.incident_id}\n")
        return 1
    if args.json:
        emit_json([r.model_dump(mode="json") for r in records])
    elif args.incident_id:
        record = records[0]
        sent = _notifications(settings.data_dir, record.id)
        _show(record, settings.release_command(record.id), sent)
    else:
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
