"""`responder test [PATH ...]`: run playbook unit tests (`*.test.yaml`); show expected against actual."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from responder.cli._common import emit_json
from responder.cli._loading import load_everything
from responder.planning import describe_result, load_cases, run_case

if TYPE_CHECKING:
    import argparse

    from responder.cli._types import Subparsers

__all__ = ["register"]


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add `test`."""
    parser = commands.add_parser(
        "test", parents=[parent], help="run playbook unit tests", description=__doc__
    )
    parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="test files or directories"
    )
    parser.add_argument("--playbooks", type=Path, metavar="DIR", help="playbooks under test")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when every case passes, 1 otherwise."""
    loaded = load_everything(args, [args.playbooks] if args.playbooks else None)
    cases = load_cases(args.paths or [loaded.settings.playbooks])
    results = [
        run_case(
            path,
            line,
            case,
            playbooks=loaded.playbooks,
            actions=loaded.actions,
            templates=loaded.templates,
            rules=loaded.settings.targets,
            protection=loaded.settings.protection,
        )
        for path, line, case in cases
    ]
    failed = [r for r in results if not r.passed]
    if args.json:
        emit_json(
            {
                "passed": len(results) - len(failed),
                "failed": len(failed),
                "results": [describe_result(r) for r in results],
            }
        )
    else:
        for result in failed:
            sys.stdout.write(f"FAIL {result.file}:{result.line}: {result.name}\n")
            for failure in result.failures:
                sys.stdout.write(f"     {failure}\n")
        sys.stdout.write(f"{len(results) - len(failed)} passed, {len(failed)} failed\n")
    return 1 if failed or not results else 0
