"""`responder COMMAND`: builds the parser from each command module and runs the one asked for."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import TYPE_CHECKING

from responder import __version__
from responder.cli import (
    actions,
    audit,
    check,
    events,
    gc,
    incidents,
    notifiers,
    plan,
    playbook_tests,
    release,
    report,
    serve,
)
from responder.cli._common import common_options
from responder.cli.logs import one_line_last_resort
from responder.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]

_COMMANDS = (
    serve,
    check,
    plan,
    playbook_tests,
    actions,
    notifiers,
    events,
    incidents,
    report,
    release,
    audit,
    gc,
)
_CONFIG_ERROR = 2
_READER_GONE = 128 + signal.SIGPIPE
"""141: the status of a program stopped by SIGPIPE, which `git log | head -1` also gives."""


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
    """Run one command; a configuration problem is one clear message and exit status 2.

    A reader that stops early (`responder incidents | head -1`) ends the command quietly
    with status 141, as a shell reports for a program stopped by SIGPIPE: no traceback.
    """
    try:
        try:
            status = _run(argv)
        finally:
            # Written out here, not at interpreter exit, where a closed pipe would still print
            # "Exception ignored ... BrokenPipeError" and exit 120. `--help` passes too.
            sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
        return _READER_GONE
    return status


def _run(argv: Sequence[str] | None) -> int:
    one_line_last_resort()
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except ConfigError as exc:
        sys.stderr.write(f"responder: {exc}\n")
        return _CONFIG_ERROR
    return status


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so what is still buffered cannot fail again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is no file (an embedding program's own stream)
        return
