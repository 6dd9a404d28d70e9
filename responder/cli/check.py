"""`responder check [PATH ...]`: validate the configuration and the playbooks, naming file:line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from responder.actions import ActionRegistry, default_actions
from responder.cli._common import emit_json, settings_from
from responder.errors import ConfigError
from responder.playbooks import load_playbooks

if TYPE_CHECKING:
    import argparse

    from responder.cli._types import Subparsers

__all__ = ["register"]


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add `check`."""
    parser = commands.add_parser(
        "check", parents=[parent], help="validate config and playbooks", description=__doc__
    )
    parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="playbook files or directories"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Exit 0 with a summary, or 1 with every problem found."""
    errors: list[str] = []
    summary = ""
    try:
        settings = settings_from(args)
        paths = args.paths or [settings.playbooks]
        loaded = load_playbooks(
            paths, ActionRegistry(default_actions()), channels=settings.channel_names()
        )
        # Channel secrets and the HTTP tokens (read now, and each role's its own), reported
        # beside any playbook problem, not instead of it.
        for read_now in (settings.check_secrets, settings.tokens):
            try:
                read_now()
            except ConfigError as exc:
                lines = str(exc).split("\n")
                errors.extend(line.strip() for line in lines[1:] or lines if line.strip())
        config = str(args.config) if args.config else "built-in defaults"
        summary = (
            f"ok: {len(loaded.playbooks)} playbooks in {len(loaded.files)} files, "
            f"configuration from {config}"
        )
    except ConfigError as exc:
        errors = str(exc).removeprefix("invalid configuration:\n  ").split("\n")
        errors = [line.strip() for line in errors if line.strip()]
    if args.json:
        emit_json({"ok": not errors, "summary": summary, "errors": errors})
    elif errors:
        for line in errors:
            sys.stderr.write(f"{line}\n")
        sys.stderr.write(f"{len(errors)} problem{'s' if len(errors) != 1 else ''} found\n")
    else:
        sys.stdout.write(summary + "\n")
    return 1 if errors else 0
