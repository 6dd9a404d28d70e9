"""The measurements of `bench/scale.py` that run a server: intake, start-up, the events view."""

from __future__ import annotations

import contextlib
import http.client
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from harness import BENCH_DIR, HOST, INTAKE_PATH, BenchError
from harness.machine import process_memory_kb
from harness.processes import Server, free_port, scratch, server, status_ready
from harness.seed import (
    NOISE_RULE,
    drop_new_indexes,
    set_cursor,
    write_journal,
    write_playbooks,
)
from harness.servers import responder_env
from harness.wrk import Wrk, placement_for

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

LUA_SCRIPT = BENCH_DIR / "intake.lua"
THROUGHPUT_SHARE = 0.8
STARTUP_S = 3.0
PAGE_MS = 50.0
STARTS = 3


@dataclass(frozen=True)
class Options:
    """The parsed command line."""

    only: tuple[str, ...]
    playbooks: tuple[int, ...]
    connections: int
    duration: int
    warmup: int
    events: int
    requests: int
    audit_lines: int
    incident_events: int
    pin: bool
    json_out: Path | None


@dataclass(frozen=True)
class Figure:
    """One line of the table."""

    what: str
    value: float
    unit: str
    reference: str | None = None
    target: str | None = None
    met: bool | None = None

    @property
    def shown(self) -> str:
        """The value with its unit."""
        digits = 0 if self.value >= 100 else 2
        return f"{self.value:,.{digits}f} {self.unit}"

    def as_json(self) -> dict[str, Any]:
        """For `--json`."""
        return asdict(self)


def say(text: str) -> None:
    """A progress line."""
    print(f"  {text}", flush=True)


@contextlib.contextmanager
def serve(workdir: Path, playbooks: Path, prefix: Sequence[str] = ()) -> Iterator[Server]:
    """`responder serve` on `workdir/data` as it is (made by the caller), ready on /readyz."""
    port = free_port()
    command = [*prefix, sys.executable, "-m", "responder", "serve", "--port", str(port)]
    command += ["--data-dir", str(workdir / "data"), "--playbooks", str(playbooks)]
    ready = status_ready(port, "GET", "/readyz")
    with server("responder", port, command, workdir, ready=ready, env=responder_env()) as running:
        yield running


# -- intake with more and more playbooks ------------------------------------------------------


def measure_intake(options: Options, wrk_path: str) -> list[Figure]:
    """2xx/s, p99 and RSS for each playbook count; the share of the fewest's throughput."""
    placement, _ = placement_for(options.pin)
    wrk = Wrk(wrk_path, LUA_SCRIPT, 2, placement)
    runs: list[tuple[int, float, float, int | None]] = []
    for count in options.playbooks:
        with scratch("scale-intake-") as workdir:
            write_playbooks(workdir / "playbooks", count)
            (workdir / "data").mkdir()
            with serve(workdir, workdir / "playbooks", placement.server_prefix()) as running:
                nonce = uuid.uuid4().hex[:8]
                conns, port = options.connections, running.port
                if options.warmup:
                    wrk.run(INTAKE_PATH, port, conns, options.warmup, f"w{nonce}", NOISE_RULE)
                result = wrk.run(
                    INTAKE_PATH, port, conns, options.duration, f"m{nonce}", NOISE_RULE
                )
                rss = process_memory_kb(running.pid, "VmRSS")
        say(f"{count} playbooks: {result.rps:,.0f} 2xx/s, p99 {result.p99_ms:.1f} ms")
        runs.append((count, result.rps, result.p99_ms, rss))
    fewest = runs[0]
    figures = []
    for count, rps, p99, rss in runs:
        share = rps / fewest[1] if fewest[1] else 0.0
        last = count == runs[-1][0] and len(runs) > 1
        figures.append(
            Figure(
                f"intake, {count} playbooks",
                rps,
                "2xx/s",
                reference=f"{fewest[1]:,.0f} 2xx/s with {fewest[0]} ({share:.2f})",
                target=f">= {THROUGHPUT_SHARE} x {fewest[0]} playbooks" if last else None,
                met=share >= THROUGHPUT_SHARE if last else None,
            )
        )
        figures.append(Figure(f"intake p99, {count} playbooks", p99, "ms"))
        figures.append(Figure(f"server RSS, {count} playbooks", (rss or 0) / 1024, "MB"))
    return figures


# -- start-up and the events view over a big journal -------------------------------------------


def _get_ms(port: int, path: str) -> float:
    """One GET, from sending to the whole body read."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        started = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        conn.close()
    if response.status != 200:
        raise BenchError(f"GET {path} answered {response.status}")
    return elapsed


@contextlib.contextmanager
def _started(workdir: Path, playbooks: Path) -> Iterator[tuple[float, Server]]:
    """Seconds from starting the server to `/readyz` 200, and the running server."""
    started = time.perf_counter()
    with serve(workdir, playbooks) as running:
        yield time.perf_counter() - started, running


def _median_start(workdir: Path, playbooks: Path) -> float:
    """The median of `STARTS` start-ups, each stopped before the next."""
    times = []
    for _ in range(STARTS):
        with _started(workdir, playbooks) as (seconds, _):
            times.append(seconds)
    return statistics.median(times)


def _pages(events: int) -> list[tuple[str, str]]:
    """The page shapes: first and deep, unfiltered and filtered."""
    deep = max(2, events // 1000)
    return [
        ("first page", "/v1/events?limit=50"),
        (f"deep page (before={deep})", f"/v1/events?limit=50&before={deep}"),
        ("first page, source=alertmanager", "/v1/events?limit=50&source=alertmanager"),
        (
            "deep page, source=alertmanager",
            f"/v1/events?limit=50&source=alertmanager&before={deep * 10}",
        ),
        ("first page, name=HighCPU", "/v1/events?limit=50&name=HighCPU"),
        ("deep page, name=HighCPU", f"/v1/events?limit=50&name=HighCPU&before={deep * 10}"),
    ]


def measure_startup(options: Options) -> list[Figure]:
    """Start-up with an empty and a full journal, then the events pages of the full one."""
    with scratch("scale-empty-") as empty:
        (empty / "data").mkdir()
        (empty / "playbooks").mkdir()
        reference = _median_start(empty, empty / "playbooks")
    with scratch("scale-journal-") as workdir:
        (workdir / "data").mkdir()
        (workdir / "playbooks").mkdir()
        say(f"writing {options.events:,} journaled events")
        last = write_journal(workdir / "data" / "journal.sqlite3", options.events)
        set_cursor(workdir / "data" / "incidents.sqlite3", last)
        drop_new_indexes(workdir / "data" / "journal.sqlite3")
        with _started(workdir, workdir / "playbooks") as (upgrade, _):
            pass
        seconds = _median_start(workdir, workdir / "playbooks")
        say(f"ready in {seconds:.2f} s with {options.events:,} events ({upgrade:.2f} s first)")
        figures = _startup_figures(options.events, seconds, upgrade, reference)
        with serve(workdir, workdir / "playbooks") as running:
            for what, path in _pages(options.events):
                times = [_get_ms(running.port, path) for _ in range(options.requests)]
                median = statistics.median(times)
                figures.append(
                    Figure(
                        f"GET /v1/events {what}",
                        median,
                        "ms",
                        reference=f"max {max(times):.1f} ms of {len(times)}",
                        target=f"< {PAGE_MS:g} ms",
                        met=median < PAGE_MS,
                    )
                )
    return figures


def _startup_figures(events: int, seconds: float, upgrade: float, empty: float) -> list[Figure]:
    """Start-up with the journal as it stays, and the first one after an upgrade."""
    return [
        Figure(
            f"start-up to /readyz, {events:,} events (median of {STARTS})",
            seconds,
            "s",
            reference=f"{empty:.2f} s with an empty journal (median of {STARTS})",
            target=f"< {STARTUP_S:g} s",
            met=seconds < STARTUP_S,
        ),
        Figure(
            f"first start-up of a journal of {events:,} from before the index",
            upgrade,
            "s",
            reference=f"{empty:.2f} s with an empty journal",
            target="once, then as above",
        ),
    ]
