"""`responder actions`: every action, its parameters, and what undoes it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from responder.actions import ActionRegistry, default_actions
from responder.cli._common import emit_json

if TYPE_CHECKING:
    import argparse

    from responder.cli._types import Subparsers

__all__ = ["register"]


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add `actions`."""
    parser = commands.add_parser(
        "actions", parents=[parent], help="list actions and their parameters", description=__doc__
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the registry."""
    registry = ActionRegistry(default_actions())
    listing: list[dict[str, Any]] = [
        {
            "name": action.name,
            "summary": action.summary,
            "undo": action.undo,
            "changes_container": action.changes_container,
            "parameters": action.parameters(),
        }
        for action in registry
    ]
    if args.json:
        emit_json(listing)
        return 0
    out = sys.stdout
    for entry in listing:
        out.write(f"{entry['name']}\n  {entry['summary']}\n  undone by: {entry['undo']}\n")
        for param in entry["parameters"]:
            default = "required" if param["required"] else f"default {param['default']!r}"
            out.write(f"    {param['name']}: {param['type']} ({default}) {param['description']}\n")
        out.write("\n")
    return 0
