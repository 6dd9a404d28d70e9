"""The benchmarks' harness: what every script in bench/ needs, so that each says what it measures.

- `processes`: a server as a process: a free port, readiness, its log, stopping it.
- `servers`: `responder serve` and the bare aiohttp handler (the intake reference), the config
  file, the journal.
- `machine`: CPU and memory of the machine and of a process; the facts a report starts with.
- `profiling`: `py-spy record` of a server.
- `containers`: the engine, the test image, the run's labelled containers and their removal.
- `engine_log`: the engine's event stream: when each container was paused, cut off or undone.
- `sdk`: the raw Docker SDK making a playbook's calls: the same-run containment reference.
- `api`: a client of one responder: POST an event, read its incidents.
- `falco`: Falco events as Falco sends them.
- `wrk`: the wrk load generator and where it runs.
- `paced`: a steady-rate aiohttp client, for a storm that keeps its schedule.
- `figures`: percentiles, spreads, ratios, tables, verdicts, JSON.
- `run`: the common options, the header, and the run of a benchmark on the Docker engine.

The scripts run with `bench/` first on `sys.path`, so they import this package as `harness`.
Only 127.0.0.1 is ever targeted, and every wait has a deadline.
"""

from __future__ import annotations

from pathlib import Path

HOST = "127.0.0.1"
INTAKE_PATH = "/v1/events/falco"
BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent

EXIT_FAILED = 1
EXIT_MISSING = 2
EXIT_INTERRUPTED = 130


class BenchError(Exception):
    """A run could not be completed: a server did not start, a tool or a check failed."""
