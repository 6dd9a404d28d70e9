"""The measurements of `bench/scale.py` on files alone: `audit verify`, and building a report."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from harness import BenchError
from harness.processes import scratch
from harness.seed import write_audit, write_incident
from harness.servers import responder_env
from scale_parts import Figure, Options, say

from responder.incidents import Incidents
from responder.journal import JournalReader
from responder.reports import FORMATS, collect_report, render

if TYPE_CHECKING:
    from pathlib import Path

    from responder.journal import Event

AUDIT_LINES_PER_S = 200_000
REPEATS = 5


# -- audit verify ------------------------------------------------------------------------------


def measure_audit(options: Options) -> list[Figure]:
    """`responder audit verify --file` over sealed lines; and over 1 line, the fixed cost."""
    with scratch("scale-audit-") as workdir:
        say(f"sealing {options.audit_lines:,} audit lines")
        write_audit(workdir / "audit.jsonl", options.audit_lines)
        write_audit(workdir / "one.jsonl", 1)
        fixed = _verify_s(workdir, workdir / "one.jsonl")
        seconds = _verify_s(workdir, workdir / "audit.jsonl")
    rate = options.audit_lines / seconds
    work = seconds - fixed
    without = f"{options.audit_lines / work:,.0f} lines/s" if work > 0 else "n/a"
    say(f"verified in {seconds:.2f} s ({fixed:.2f} s for one line)")
    return [
        Figure(
            f"audit verify, {options.audit_lines:,} lines",
            seconds,
            "s",
            reference=f"{fixed:.2f} s for 1 line (the command's start-up)",
        ),
        Figure(
            "audit verify rate, the command's start-up included",
            rate,
            "lines/s",
            reference=f"{without} without its start-up",
            target=f">= {AUDIT_LINES_PER_S:,}",
            met=rate >= AUDIT_LINES_PER_S,
        ),
    ]


def _verify_s(workdir: Path, path: Path) -> float:
    command = [sys.executable, "-m", "responder", "audit", "verify", "--file", str(path)]
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=workdir,
        env=responder_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"audit verify exited with {done.returncode}: {done.stdout}{done.stderr}")
    return elapsed


# -- a report ----------------------------------------------------------------------------------


async def _build(data_dir: Path, incident_id: str) -> dict[str, float]:
    """Milliseconds to collect the report from the stores and render it, per format."""
    incidents = Incidents(data_dir)
    journal = JournalReader(data_dir / "journal.sqlite3")

    async def event(event_id: str) -> Event | None:
        return await asyncio.to_thread(journal.event, event_id)

    await incidents.open()
    took: dict[str, list[float]] = {fmt: [] for fmt in FORMATS}
    try:
        for _ in range(REPEATS):
            for fmt in FORMATS:
                started = time.perf_counter()
                built = await collect_report(
                    incident_id,
                    incidents=incidents,
                    event=event,
                    outbox_records=None,
                    data_dir=data_dir,
                    public_url=None,
                )
                if built is None:
                    raise BenchError(f"no incident {incident_id}")
                render(built, fmt)
                took[fmt].append((time.perf_counter() - started) * 1000)
    finally:
        await incidents.close()
        journal.close()
    return {fmt: statistics.median(values) for fmt, values in took.items()}


def measure_report(options: Options) -> list[Figure]:
    """Build and render the report of a big incident and of a one-event incident."""
    timings = {}
    for events in (1, options.incident_events):
        with scratch("scale-report-") as data_dir:
            incident_id = write_incident(data_dir, events)
            timings[events] = asyncio.run(_build(data_dir, incident_id))
    big = timings[options.incident_events]
    say(f"report of {options.incident_events:,} events: {big}")
    return [
        Figure(
            f"report ({fmt}), incident of {options.incident_events:,} events",
            big[fmt],
            "ms",
            reference=f"{timings[1][fmt]:.1f} ms for 1 event",
        )
        for fmt in FORMATS
    ]
