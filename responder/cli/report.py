"""`responder report ID`: an incident's post-incident report, rendered fresh from the stores."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from responder.cli._common import settings_from
from responder.incidents import INCIDENTS_FILE, Incidents
from responder.journal import JOURNAL_FILE, JournalReader
from responder.notifications.outbox import OUTBOX_FILE, OutboxStore
from responder.reports import FORMATS, collect_report, render

if TYPE_CHECKING:
    import argparse

    from responder.cli._types import Subparsers
    from responder.journal import Event
    from responder.notifications.outbox import OutboxRecord
    from responder.reports import Report
    from responder.settings import Settings

__all__ = ["register"]


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add `report`."""
    parser = commands.add_parser(
        "report", parents=[parent], help="print an incident's report", description=__doc__
    )
    parser.add_argument("incident_id", metavar="ID", help="the incident")
    parser.add_argument(
        "--format", dest="fmt", choices=FORMATS, default="md", help="md (default), json or html"
    )
    parser.add_argument("--output", type=Path, metavar="FILE", help="write here, not to stdout")
    parser.set_defaults(run=run)


async def _collect(incident_id: str, settings: Settings) -> Report | None:
    """Read the stores as they are now; the server may be running and writing to them."""
    data_dir = settings.data_dir
    incidents = Incidents(data_dir)
    journal = JournalReader(data_dir / JOURNAL_FILE)
    outbox_path = data_dir / OUTBOX_FILE
    # Only an existing outbox is opened: reading a report must not create stores.
    outbox = OutboxStore(outbox_path) if outbox_path.exists() else None

    async def event(event_id: str) -> Event | None:
        """The journaled event, or None when there is no journal here."""
        if not (data_dir / JOURNAL_FILE).exists():
            return None
        return await asyncio.to_thread(journal.event, event_id)

    async def notifications(incident_id: str) -> list[OutboxRecord]:
        """The incident's notifications, or none when there is no outbox here."""
        if outbox is None:
            return []
        return await asyncio.to_thread(outbox.for_incident, incident_id)

    await incidents.open()
    try:
        return await collect_report(
            incident_id,
            incidents=incidents,
            event=event,
            outbox_records=notifications,
            data_dir=data_dir,
            public_url=settings.server.public_url,
            release_command=settings.release_command(incident_id),
        )
    finally:
        await incidents.close()
        journal.close()
        if outbox is not None:
            outbox.close()


def run(args: argparse.Namespace) -> int:
    """Print (or write) one report; exit 1 for an unknown incident."""
    settings = settings_from(args)
    data_dir = settings.data_dir
    if not (data_dir / INCIDENTS_FILE).exists():
        sys.stderr.write(f"responder: no incidents in {data_dir}\n")
        return 1
    report = asyncio.run(_collect(args.incident_id, settings))
    if report is None:
        sys.stderr.write(f"responder: no incident {args.incident_id!r} in {data_dir}\n")
        return 1
    text = render(report, args.fmt)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0
