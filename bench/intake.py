"""Intake benchmark: responder's `POST /v1/events/falco` against a bare aiohttp handler.

Run from the repository with the project's virtualenv:

    .venv/bin/python bench/intake.py --connections 64,512 --duration 10

For each connection count it starts `bench/bare_server.py` and then `responder serve` (with a
fresh temporary data directory, the shipped playbooks, no token, loopback only), waits until
each answers, warms it up, and drives it with `wrk` for `--duration` seconds through
`bench/intake.lua`, which sends a unique Falco event in every request. The events name a rule
no shipped playbook acts on (`--rule` changes it): the server's worker matches, audits and files
each one in the same process while intake runs, as it would for a flood of noise.

It prints, per server: acknowledged requests per second, p50 and p99 acknowledgement latency,
non-2xx answers and socket errors, the server's CPU time per acknowledged request (user and
system time of the process over the measured run, from /proc/PID/stat, divided by its 2xx
count), then the throughput ratio responder/bare. After each
responder run it stops the server and counts the rows of `journal.sqlite3`: every 2xx that wrk
counted must be there.

By default each server runs pinned to one CPU and wrk (and py-spy) to the other CPUs, the same
for both servers; `--no-pin` lets the scheduler place everything. `--profile FILE` adds one
more responder run under `py-spy record`, whose figures are not part of the table.

Only 127.0.0.1 is ever targeted, and every wait has a deadline. Exit status: 0 when every run
completed and every journal check held, 1 when a run or a check failed, 2 when a tool is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

import aiohttp
from _common import (
    BARE_SERVER,
    BENCH_DIR,
    HOST,
    INTAKE_PATH,
    PY_SPY_HINT,
    REPO,
    BenchError,
    Managed,
    Profile,
    add_json_argument,
    add_profile_arguments,
    find_py_spy,
    free_port,
    indent,
    journal_rows,
    log_tail,
    post_ready,
    process_cpu_s,
    profile_from,
    py_spy,
    responder_env,
    responder_source,
    server,
    status_ready,
    tool_version,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

LUA_SCRIPT = BENCH_DIR / "intake.lua"
SHIPPED_PLAYBOOKS = REPO / "playbooks"

WRK_GRACE_S = 60.0
WRK_SOCKET_TIMEOUT = "10s"
RESULT_PREFIX = "BENCH_RESULT "

RATIO_TARGET = 0.7
P99_TARGET_MS = 25.0
P99_TARGET_CONNECTIONS = 64

EXIT_FAILED = 1
EXIT_MISSING_TOOL = 2

WRK_INSTALL_HINT = (
    "wrk is not installed (or not on PATH). Install it with:\n"
    "    sudo apt-get install -y wrk        # Debian/Ubuntu\n"
    "    brew install wrk                   # macOS\n"
    "or build it from https://github.com/wg/wrk, then run this again."
)


@dataclass(frozen=True)
class Placement:
    """Which CPUs the servers and the load generator may use; None means not pinned."""

    server_cpus: tuple[int, ...] | None
    client_cpus: tuple[int, ...] | None

    def server_prefix(self) -> list[str]:
        """The command prefix that pins a server, or nothing."""
        return _taskset(self.server_cpus)

    def client_prefix(self) -> list[str]:
        """The command prefix that pins wrk and py-spy, or nothing."""
        return _taskset(self.client_cpus)

    def describe(self) -> str:
        """One line for the report."""
        if self.server_cpus is None or self.client_cpus is None:
            return "not pinned: servers, wrk and the OS share every CPU"
        return (
            f"pinned with taskset: each server on CPU {_cpu_list(self.server_cpus)}, "
            f"wrk on CPU {_cpu_list(self.client_cpus)} (the same for both servers)"
        )


def _cpu_list(cpus: Sequence[int]) -> str:
    return ",".join(str(cpu) for cpu in cpus)


def _taskset(cpus: tuple[int, ...] | None) -> list[str]:
    return [] if cpus is None else ["taskset", "-c", _cpu_list(cpus)]


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured; latencies are from request sent to response read."""

    duration_s: float
    completed: int
    sent: int
    ok_2xx: int
    status_202: int
    non_2xx: int
    statuses: dict[str, int]
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        """Acknowledged (2xx) requests per second."""
        return self.ok_2xx / self.duration_s if self.duration_s > 0 else 0.0

    @classmethod
    def parse(cls, stdout: str) -> WrkResult:
        """Read the `BENCH_RESULT {...}` line that bench/intake.lua prints when wrk is done."""
        for line in stdout.splitlines():
            if line.startswith(RESULT_PREFIX):
                data = json.loads(line.removeprefix(RESULT_PREFIX))
                errors = data["socket_errors"]
                latency = data["latency_us"]
                return cls(
                    duration_s=data["duration_us"] / 1e6,
                    completed=int(data["completed"]),
                    sent=int(data["sent"]),
                    ok_2xx=int(data["ok_2xx"]),
                    status_202=int(data["status_202"]),
                    non_2xx=int(data["non_2xx"]),
                    statuses={str(k): int(v) for k, v in data["statuses"].items()},
                    socket_errors=sum(int(v) for v in errors.values()),
                    p50_ms=latency["p50"] / 1000,
                    p90_ms=latency["p90"] / 1000,
                    p99_ms=latency["p99"] / 1000,
                    max_ms=latency["max"] / 1000,
                )
        raise BenchError(f"wrk printed no {RESULT_PREFIX.strip()} line:\n{stdout[-2000:]}")


@dataclass(frozen=True)
class JournalCheck:
    """Journal rows against what wrk saw, over the warm-up and the measured run together.

    Every 2xx must be a journaled event, so `rows >= acknowledged`. wrk stops with requests in
    flight (at most one per connection); the server may journal those without wrk reading the
    answer, so `rows` may exceed `acknowledged` by that many, and never exceeds `sent`.
    """

    rows: int
    acknowledged: int
    sent: int

    @property
    def ok(self) -> bool:
        """Every acknowledged event is journaled, and nothing that was not sent is."""
        return self.acknowledged <= self.rows <= self.sent

    def describe(self) -> str:
        """One line for the report."""
        verdict = "OK" if self.ok else "FAILED"
        extra = self.rows - self.acknowledged
        relation = "equal" if extra == 0 else f"{extra:+d} rows, answers unread when wrk stopped"
        return (
            f"journal rows {self.rows} vs wrk 2xx {self.acknowledged} ({relation}; "
            f"requests sent {self.sent}): {verdict}"
        )


@dataclass(frozen=True)
class Run:
    """One measured run of one server at one connection count."""

    server: str
    connections: int
    result: WrkResult
    journal: JournalCheck | None = None
    stop_notes: tuple[str, ...] = ()
    cpu_s: float | None = None
    """The server process's user and system CPU-seconds over the measured run."""

    @property
    def cpu_us_per_2xx(self) -> float | None:
        """CPU microseconds the server spent per acknowledged request, every thread counted."""
        if self.cpu_s is None or not self.result.ok_2xx:
            return None
        return self.cpu_s / self.result.ok_2xx * 1e6


@dataclass(frozen=True)
class Options:
    """The parsed command line."""

    connections: tuple[int, ...]
    duration: int
    warmup: int
    threads: int
    pin: bool
    profile: Profile | None
    profile_connections: int | None
    json_out: Path | None
    rule: str = "Contact K8S API Server From Container"


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """Read and check the command line."""
    parser = argparse.ArgumentParser(
        description="Benchmark responder's Falco intake against a bare aiohttp handler."
    )
    parser.add_argument(
        "--connections", default="64,512", help="comma-separated connection counts (64,512)"
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run (10)")
    parser.add_argument(
        "--warmup", type=int, default=2, help="seconds of load before each measured run (2)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin servers and wrk to separate CPUs",
    )
    parser.add_argument(
        "--rule",
        default=Options.rule,
        help=(
            "the Falco rule every event names (default: a Falco default rule no shipped "
            "playbook acts on, so the server journals, matches against every shipped "
            "playbook and audits each event, but opens no incident)"
        ),
    )
    add_profile_arguments(
        parser, "after the measured runs, profile one more responder run with py-spy"
    )
    parser.add_argument(
        "--profile-connections",
        type=int,
        metavar="N",
        help="connections for the profiled run (default: the first of --connections)",
    )
    add_json_argument(parser)
    args = parser.parse_args(argv)
    try:
        connections = tuple(int(c) for c in str(args.connections).split(",") if c.strip())
    except ValueError:
        parser.error(f"--connections: not a list of integers: {args.connections!r}")
    if not connections or min(connections) < 1:
        parser.error("--connections: give one or more positive counts")
    if not args.rule or any(c in args.rule for c in '"\\%') or not args.rule.isprintable():
        parser.error("--rule: give a printable rule name without quotes, backslashes or %")
    if args.duration < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--duration and --threads must be >= 1, --warmup >= 0")
    return Options(
        connections=connections,
        duration=args.duration,
        warmup=args.warmup,
        threads=args.threads,
        pin=args.pin,
        profile=profile_from(args),
        profile_connections=args.profile_connections,
        json_out=args.json_out,
        rule=args.rule,
    )


def placement_for(pin: bool) -> tuple[Placement, str | None]:
    """Server on the first allowed CPU, wrk on the rest; unpinned when that is impossible."""
    if not pin:
        return Placement(None, None), None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return Placement(None, None), "only one CPU available: running unpinned"
    if shutil.which("taskset") is None:
        return Placement(None, None), "taskset not found (util-linux): running unpinned"
    return Placement((cpus[0],), tuple(cpus[1:])), None


def responder_command(port: int, workdir: Path) -> tuple[list[str], Path]:
    """`responder serve` on loopback, with a fresh data dir and the shipped playbooks.

    The data directory is made in `workdir`; returns the command and the data directory.
    """
    data_dir = workdir / "data"
    playbooks = SHIPPED_PLAYBOOKS
    data_dir.mkdir()
    command = [
        sys.executable,
        "-m",
        "responder",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--playbooks",
        str(playbooks),
    ]
    return command, data_dir


@dataclass(frozen=True)
class Load:
    """How the load is made: wrk's path, where it runs, and the command-line settings."""

    wrk: str
    placement: Placement
    options: Options

    def run(self, port: int, connections: int, seconds: int, run_id: str) -> WrkResult:
        """Drive 127.0.0.1:port for `seconds` with unique Falco bodies; BenchError on failure."""
        command = [
            *self.placement.client_prefix(),
            self.wrk,
            f"--threads={min(self.options.threads, connections)}",
            f"--connections={connections}",
            f"--duration={seconds}s",
            f"--timeout={WRK_SOCKET_TIMEOUT}",
            f"--script={LUA_SCRIPT}",
            f"http://{HOST}:{port}{INTAKE_PATH}",
            "--",
            run_id,
            self.options.rule,
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=seconds + WRK_GRACE_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"wrk did not finish within {seconds + WRK_GRACE_S:g} s") from None
        if done.returncode != 0:
            raise BenchError(f"wrk exited with {done.returncode}:\n{done.stderr or done.stdout}")
        return WrkResult.parse(done.stdout)

    def warm_and_measure(
        self, port: int, connections: int, label: str, pid: int
    ) -> tuple[WrkResult | None, WrkResult, float | None]:
        """The warm-up (if any), the measured run, and the server's CPU-seconds over the latter."""
        nonce = uuid.uuid4().hex[:8]
        warm = None
        if self.options.warmup:
            warm = self.run(port, connections, self.options.warmup, f"w{nonce}")
        print(
            f"  {label}: measuring {self.options.duration} s at {connections} connections",
            flush=True,
        )
        before = process_cpu_s(pid)
        main = self.run(port, connections, self.options.duration, f"m{nonce}")
        after = process_cpu_s(pid)
        cpu = after - before if before is not None and after is not None else None
        return warm, main, cpu


def format_statuses(statuses: dict[str, int]) -> str:
    """`503 x 12, 500 x 1` for the answers outside 2xx, most frequent first."""
    odd = [(s, n) for s, n in statuses.items() if not s.startswith("2")]
    return ", ".join(f"{s} x {n}" for s, n in sorted(odd, key=lambda item: -item[1]))


def explain_failures(
    label: str, results: Sequence[WrkResult | None], managed: Managed, log: Path
) -> None:
    """Say right away why a run went wrong, with the end of the server's log."""
    non_2xx: dict[str, int] = {}
    for result in results:
        for status, count in (result.statuses if result else {}).items():
            non_2xx[status] = non_2xx.get(status, 0) + count
    problems = []
    if text := format_statuses(non_2xx):
        problems.append(f"non-2xx answers: {text}")
    if managed.notes:
        problems.append(f"stop was not clean: {'; '.join(managed.notes)}")
    if problems:
        print(f"  {label}: {'; '.join(problems)}; end of its log:", flush=True)
        print(indent(log_tail(log, 8)), flush=True)


def bench_bare(load: Load, connections: int) -> Run:
    """One run of the bare handler."""
    port = free_port()
    command = [*load.placement.server_prefix(), sys.executable, str(BARE_SERVER)]
    command += ["--port", str(port)]
    with tempfile.TemporaryDirectory(prefix="bare-bench-") as tmp:
        log = Path(tmp) / "server.log"
        with server("bare", command, log, post_ready(port)) as managed:
            warm, main, cpu = load.warm_and_measure(port, connections, "bare", managed.proc.pid)
        explain_failures("bare", [warm, main], managed, log)
    return Run("bare", connections, main, stop_notes=tuple(managed.notes), cpu_s=cpu)


def bench_responder(load: Load, connections: int) -> Run:
    """One run of responder on a fresh journal, then the journal check."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="responder-bench-") as tmp:
        serve, data_dir = responder_command(port, Path(tmp))
        command = [*load.placement.server_prefix(), *serve]
        log = Path(tmp) / "server.log"
        healthz = status_ready(port, "GET", "/healthz")
        with server("responder", command, log, healthz, responder_env()) as managed:
            pid = managed.proc.pid
            warm, main, cpu = load.warm_and_measure(port, connections, "responder", pid)
        explain_failures("responder", [warm, main], managed, log)
        # Rows committed before an unclean stop are on disk all the same: the check stands.
        rows = journal_rows(data_dir)
    runs = [r for r in (warm, main) if r is not None]
    check = JournalCheck(
        rows=rows,
        acknowledged=sum(r.ok_2xx for r in runs),
        sent=sum(r.sent for r in runs),
    )
    return Run("responder", connections, main, check, tuple(managed.notes), cpu)


def profile_responder(load: Load, connections: int, profile: Profile) -> None:
    """One extra responder run under `py-spy record` (all threads, active samples only)."""
    options = load.options
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="responder-profile-") as tmp:
        serve, _ = responder_command(port, Path(tmp))
        command = [*load.placement.server_prefix(), *serve]
        log = Path(tmp) / "server.log"
        healthz = status_ready(port, "GET", "/healthz")
        with server("responder", command, log, healthz, responder_env()) as managed:
            if options.warmup:
                load.run(port, connections, options.warmup, "pw")
            prefix = load.placement.client_prefix()
            with py_spy(managed.proc.pid, profile, rate=200, prefix=prefix):
                result = load.run(port, connections, options.duration, "pm")
    print(
        f"  profile: {profile.out} ({profile.format}); under py-spy the responder did "
        f"{result.rps:,.0f} req/s, p99 {result.p99_ms:.1f} ms (not comparable)",
        flush=True,
    )


def environment(wrk: str, placement: Placement) -> dict[str, str]:
    """Machine and software facts for the report."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": str(os.cpu_count()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "wrk": tool_version([wrk, "--version"]),
        "responder": responder_source(),
        "placement": placement.describe(),
        "load avg": " ".join(f"{x:.2f}" for x in os.getloadavg())
        + " (1/5/15 min, before the runs)",
    }


def _row(run: Run, ratio: str) -> list[str]:
    r = run.result
    cpu = run.cpu_us_per_2xx
    return [
        str(run.connections),
        run.server,
        f"{r.rps:,.0f}",
        f"{r.p50_ms:.2f}",
        f"{r.p99_ms:.2f}",
        str(r.non_2xx),
        str(r.socket_errors),
        f"{cpu:.0f}" if cpu is not None else "?",
        ratio,
    ]


def print_table(runs: Sequence[Run]) -> None:
    """The figures, one line per server and connection count."""
    headers = ["conns", "server", "req/s", "p50 ms", "p99 ms", "non-2xx", "sock err", "CPU µs/2xx"]
    headers.append("ratio")
    bare = {r.connections: r for r in runs if r.server == "bare"}
    rows = []
    for run in runs:
        ratio = ""
        if run.server == "responder" and run.connections in bare:
            base = bare[run.connections].result.rps
            ratio = f"{run.result.rps / base:.2f}" if base else "n/a"
        rows.append(_row(run, ratio))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def verdicts(runs: Sequence[Run]) -> list[str]:
    """The issue's targets, each said as met or not met."""
    bare = {r.connections: r.result for r in runs if r.server == "bare"}
    lines = []
    for run in runs:
        if run.server != "responder":
            continue
        base = bare.get(run.connections)
        if base is not None and base.rps:
            ratio = run.result.rps / base.rps
            met = "met" if ratio >= RATIO_TARGET else "NOT met"
            lines.append(
                f"throughput >= {RATIO_TARGET} x bare at {run.connections} connections: "
                f"{ratio:.2f} -> {met}"
            )
        if run.connections == P99_TARGET_CONNECTIONS:
            met = "met" if run.result.p99_ms < P99_TARGET_MS else "NOT met"
            lines.append(
                f"p99 < {P99_TARGET_MS:g} ms at {P99_TARGET_CONNECTIONS} connections: "
                f"{run.result.p99_ms:.2f} ms -> {met}"
            )
    return lines


def write_json(path: Path, env: dict[str, str], options: Options, runs: Sequence[Run]) -> None:
    """Every figure as JSON, for comparing runs later."""
    document = {
        "environment": env,
        "settings": {
            "connections": list(options.connections),
            "duration_s": options.duration,
            "warmup_s": options.warmup,
            "wrk_threads": options.threads,
        },
        "runs": [
            asdict(run)
            | {
                "rps": run.result.rps,
                "cpu_us_per_2xx": run.cpu_us_per_2xx,
                "journal_ok": run.journal and run.journal.ok,
            }
            for run in runs
        ],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def print_header(env: dict[str, str], options: Options, note: str | None) -> None:
    """What is measured, where, and how."""
    print("responder intake benchmark: POST /v1/events/falco, a unique Falco event per request")
    for key, value in env.items():
        print(f"  {key:9} {value}")
    if note:
        print(f"  note: {note}")
    print(
        f"  load: wrk, {options.threads} threads, {options.warmup} s warm-up then "
        f"{options.duration} s measured, per server and connection count",
        flush=True,
    )


def report(runs: Sequence[Run]) -> bool:
    """Print the table, the journal checks and the targets; True when every check held."""
    print()
    print_table(runs)
    print()
    print("req/s: 2xx answers per second; p50/p99: wrk's latency from request sent to answer read")
    print(
        "CPU µs/2xx: the server process's user + system CPU time over the measured run (every "
        "thread, /proc/PID/stat) divided by its 2xx answers; ratio: responder req/s / bare req/s"
    )
    held = True
    for run in runs:
        if run.journal is not None:
            print(f"journal check at {run.connections} connections: {run.journal.describe()}")
            held = held and run.journal.ok
    for run in runs:
        if run.result.non_2xx:
            print(
                f"non-2xx from {run.server} at {run.connections} connections: "
                f"{format_statuses(run.result.statuses)}"
            )
        if run.stop_notes:
            print(
                f"warning: {run.server} at {run.connections} connections did not stop cleanly: "
                f"{'; '.join(run.stop_notes)}"
            )
    for line in verdicts(runs):
        print(f"target: {line}")
    return held


def main(argv: Sequence[str] | None = None, stderr: IO[str] = sys.stderr) -> int:
    """Run every benchmark, print the figures; the exit status says whether all held."""
    options = parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        print(WRK_INSTALL_HINT, file=stderr)
        return EXIT_MISSING_TOOL
    if options.profile is not None and find_py_spy() is None:
        print(PY_SPY_HINT, file=stderr)
        return EXIT_MISSING_TOOL
    placement, note = placement_for(options.pin)
    load = Load(wrk, placement, options)
    env = environment(wrk, placement)
    print_header(env, options, note)
    runs: list[Run] = []
    try:
        for connections in options.connections:
            runs.append(bench_bare(load, connections))
            runs.append(bench_responder(load, connections))
        if options.profile is not None:
            connections = options.profile_connections or options.connections[0]
            profile_responder(load, connections, options.profile)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=stderr)
        return EXIT_FAILED
    held = report(runs)
    if options.json_out is not None:
        write_json(options.json_out, env, options, runs)
        print(f"results written to {options.json_out}")
    return 0 if held else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
