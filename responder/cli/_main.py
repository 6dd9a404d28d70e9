"""`responder COMMAND`: builds the parser from each command module and runs the one asked for."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from responder import __version__
from responder.cli import (
    actions,
    audit,
    check,
    events,
    incidents,
    notifiers,
    plan,
    release,
    report,
    serve,
    testing,
)
from responder.cli._common import common_options
from responder.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]

_COMMANDS = (
    serve,
    check,
    plan,
    testing,
    actions,
    notifiers,
    events,
    incidents,
    report,
    release,
    audit,
)
_CONFIG_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """The full parser; each command module adds its own subcommand."""
    parser = argparse.ArgumentParser(
        prog="responder",
        description="Contain Docker containers on Falco and Alertmanager alerts.",
    )
    parser.add_argument("--version", action="version", version=f"responder {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parent = common_options()
    for command in _COMMANDS:
        command.register(commands, parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a configuration problem is one clear message and exit status 2."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except ConfigError as exc:
        sys.stderr.write(f"responder: {exc}\n")
        return _CONFIG_ERROR
    return status
