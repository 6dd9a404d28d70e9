"""How cost grows: playbooks, journaled events, audit lines and an incident's events.

Run from the repository with the project's virtualenv:

    .venv/bin/python bench/scale.py                  # everything, about five minutes
    .venv/bin/python bench/scale.py --only intake,startup --events 100000

It measures, each figure beside its reference from the same run and its target:

- intake: `responder serve` with 10, 100 and 1,000 generated playbooks (distinct Falco rules and
  alertnames, a few conditions each, ten to a file), driven by wrk through `bench/intake.lua` as
  `bench/intake.py` drives it (a unique Falco event per request, a rule no playbook names, the
  server pinned to one CPU and wrk to the others): 2xx per second, p99, and the server's RSS
  after the run. Target: throughput with the most playbooks at least 0.8 of the fewest.
- start-up and the events view: a journal of `--events` events (a million by default) written
  straight into the journal's schema, the worker's cursor at its end; the time from starting
  `responder serve` to `/readyz` answering 200 (polled every 0.1 s; the median of three
  start-ups), against an empty data directory, and the first start-up of that journal as the
  previous version left it (without the `events_source_seq` index, which it builds); then
  `GET /v1/events` latency (median of `--requests`): the first page, a deep page (`before` near
  the oldest event), and both filtered by source and by name. Targets: start-up under 3 s,
  every page under 50 ms.
- `responder audit verify --file` over `--audit-lines` lines (a million) sealed with the audit
  trail's own `seal`: lines per second. Target: at least 200,000.
- a report: one incident that 10,000 events opened and joined, built from the stores
  (`collect_report`) and rendered in every format (median of five), against an incident of one
  event.

Only 127.0.0.1 is ever targeted. Exit status: 0 when every run completed (targets missed are
reported, not failed), 1 when a run failed, 2 when wrk is missing, 130 on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from harness import EXIT_MISSING
from harness.figures import table, verdict
from harness.machine import environment, tool_version
from harness.run import attempt, counts, finish, interruptible, print_header
from harness.wrk import WRK_INSTALL_HINT, placement_for
from scale_offline import measure_audit, measure_report
from scale_parts import Figure, Options, measure_intake, measure_startup

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

TITLE = "responder scale benchmark: how cost grows with playbooks, events, audit lines"
PARTS = ("intake", "startup", "audit", "report")


@dataclass
class Results:
    """Every figure measured, in the order printed."""

    figures: list[Figure] = field(default_factory=list)


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """Read and check the command line."""
    parser = argparse.ArgumentParser(description="How responder's costs grow.")
    parser.add_argument("--only", default=",".join(PARTS), help=f"parts to run ({','.join(PARTS)})")
    parser.add_argument("--playbooks", default="10,100,1000", help="playbook counts (10,100,1000)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per intake run (10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up (2)")
    parser.add_argument("--events", type=int, default=1_000_000, help="journaled events (1e6)")
    parser.add_argument("--requests", type=int, default=30, help="requests per page shape (30)")
    parser.add_argument("--audit-lines", type=int, default=1_000_000, help="audit lines (1e6)")
    parser.add_argument("--incident-events", type=int, default=10_000, help="events (10,000)")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin CPUs")
    parser.add_argument("--json", dest="json_out", type=Path, metavar="FILE", help="write JSON")
    args = parser.parse_args(argv)
    only = tuple(part.strip() for part in str(args.only).split(",") if part.strip())
    if not only or any(part not in PARTS for part in only):
        parser.error(f"--only: give some of {','.join(PARTS)}")
    for name in ("duration", "events", "requests", "audit_lines", "incident_events"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return Options(
        only=only,
        playbooks=counts(parser, "--playbooks", str(args.playbooks), None),
        connections=args.connections,
        duration=args.duration,
        warmup=max(args.warmup, 0),
        events=args.events,
        requests=args.requests,
        audit_lines=args.audit_lines,
        incident_events=args.incident_events,
        pin=args.pin,
        json_out=args.json_out,
    )


def run_all(options: Options, wrk_path: str | None) -> Results:
    """Every part asked for, in order; each prints a line as it goes."""
    results = Results()
    steps: dict[str, Callable[[], list[Figure]]] = {
        "intake": lambda: measure_intake(options, wrk_path or "wrk"),
        "startup": lambda: measure_startup(options),
        "audit": lambda: measure_audit(options),
        "report": lambda: measure_report(options),
    }
    for part in options.only:
        results.figures.extend(steps[part]())
    return results


def report(results: Results) -> bool:
    """The table: each figure, its same-run reference, its target and whether it is met."""
    print()
    rows = [
        [
            f.what,
            f.shown,
            f.reference or "",
            f.target or "",
            "" if f.met is None else verdict(f.met),
        ]
        for f in results.figures
    ]
    table(["figure", "value", "same-run reference", "target", "verdict"], rows, left=1)
    return True


def figures(env: dict[str, str], results: Results) -> dict[str, Any]:
    """Every figure, for `--json`."""
    return {"environment": env, "figures": [f.as_json() for f in results.figures]}


def main(argv: Sequence[str] | None = None, stderr: IO[str] = sys.stderr) -> int:
    """Run the parts asked for and print the table."""
    options = parse_args(argv)
    wrk_path = shutil.which("wrk")
    if "intake" in options.only and wrk_path is None:
        print(WRK_INSTALL_HINT, file=stderr)
        return EXIT_MISSING
    placement, note = placement_for(options.pin)
    tools = {"placement": placement.describe()}
    if wrk_path:
        tools["wrk"] = tool_version([wrk_path, "--version"])
    env = environment(tools)
    print_header(TITLE, [*env.items(), *([("note", note)] if note else [])])
    interruptible()
    status, results = attempt(lambda: run_all(options, wrk_path), stderr)
    return finish(status, results, report, options.json_out, lambda done: figures(env, done))


if __name__ == "__main__":
    sys.exit(main())
