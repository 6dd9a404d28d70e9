"""`responder events`: the journal's events, newest first, as a table or JSON."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from responder.cli._common import emit_json, print_table, settings_from
from responder.journal import JOURNAL_FILE, EventQuery, JournalReader

if TYPE_CHECKING:
    import argparse

    from responder.cli._types import Subparsers
    from responder.journal import EventRow

__all__ = ["register"]


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add `events` and its filters."""
    parser = commands.add_parser(
        "events", parents=[parent], help="list journaled events", description=__doc__
    )
    parser.add_argument("--source", choices=["falco", "alertmanager"], help="only this source")
    parser.add_argument("--name", help="only this Falco rule or alertname")
    parser.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    parser.add_argument("--before", type=int, metavar="SEQ", help="page: older than this seq")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def _cells(row: EventRow) -> list[str]:
    container = row.container_name or row.container_id or "-"
    return [
        str(row.seq),
        row.received_at.strftime("%Y-%m-%d %H:%M:%S"),
        row.id,
        row.source,
        row.name,
        row.priority.label,
        row.status,
        container,
        row.hostname or "-",
    ]


def run(args: argparse.Namespace) -> int:
    """Print one page of events."""
    settings = settings_from(args)
    path = settings.data_dir / JOURNAL_FILE
    if not path.exists():
        sys.stderr.write(f"responder: no journal at {path}; has `responder serve` run here?\n")
        return 1
    reader = JournalReader(path)
    try:
        rows = reader.events(
            EventQuery(source=args.source, name=args.name, before=args.before, limit=args.limit)
        )
    finally:
        reader.close()
    if args.json:
        emit_json([row.to_json() for row in rows])
        return 0
    headers = ["SEQ", "RECEIVED", "ID", "SOURCE", "NAME", "PRIORITY", "STATUS", "CONTAINER", "HOST"]
    print_table(headers, [_cells(row) for row in rows])
    return 0
