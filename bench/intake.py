"""Intake benchmark: responder's `POST /v1/events/falco` against a durable and a bare handler.

Run from the repository with the project's virtualenv:

    .venv/bin/python bench/intake.py --connections 64,512 --duration 10

For each connection count it starts `bench/bare_server.py` (the ceiling: parse and answer),
`bench/durable_server.py` (the reference: parse, group-commit to SQLite with WAL and
`synchronous=FULL` in one writer thread, answer after the fsync) and then `responder serve` (with
a fresh temporary data directory, the shipped playbooks, no token, loopback only), waits until
each answers, warms it up, and drives it with `wrk` for `--duration` seconds through
`bench/intake.lua`, which sends a unique Falco event in every request. The events name a rule
no shipped playbook acts on (`--rule` changes it): the server's worker matches, audits and files
each one in the same process while intake runs, as it would for a flood of noise.

It prints, per server: acknowledged requests per second, p50 and p99 acknowledgement latency,
non-2xx answers and socket errors, the server's CPU time per acknowledged request (user and
system time of the process over the measured run, from /proc/PID/stat, divided by its 2xx
count), then responder's throughput and p99 beside the durable reference's with their ratios, and
the issue's targets (throughput >= 0.7 x the reference's, p99 <= 2 x the reference's) as met or
not met. After each responder or durable run it stops the server and counts the rows it wrote:
every 2xx that wrk counted must be there.

By default each server runs pinned to one CPU and wrk (and py-spy) to the other CPUs, the same
for both servers; `--no-pin` lets the scheduler place everything. `--profile FILE` adds one
more responder run under `py-spy record`, whose figures are not part of the table.

Only 127.0.0.1 is ever targeted, and every wait has a deadline. Exit status: 0 when every run
completed and every journal check held, 1 when a run or a check failed, 2 when a tool is missing,
130 on Ctrl-C or SIGTERM (the servers are stopped all the same).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import uuid
from dataclasses import asdict, dataclass
from typing import IO, TYPE_CHECKING, Any

from harness import BENCH_DIR, EXIT_MISSING, INTAKE_PATH
from harness.figures import odd_statuses, ratio, table, verdict
from harness.machine import CpuMeter, environment, tool_version
from harness.processes import indent, log_tail, scratch
from harness.profiling import PY_SPY_HINT, Profile, find_py_spy, py_spy
from harness.run import (
    Outputs,
    add_output_arguments,
    attempt,
    counts,
    finish,
    interruptible,
    outputs_from,
    print_header,
)
from harness.servers import journal_rows, reference_rows, serve_bare, serve_durable, serve_responder
from harness.wrk import WRK_INSTALL_HINT, Wrk, WrkResult, placement_for

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from harness.processes import Server

LUA_SCRIPT = BENCH_DIR / "intake.lua"
TITLE = "responder intake benchmark: POST /v1/events/falco, a unique Falco event per request"

RATIO_TARGET = 0.7
"""responder's acknowledged req/s at least this share of the durable reference's, same run."""
P99_FACTOR = 2.0
"""responder's p99 at most this many times the durable reference's, same run."""


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
class Options(Outputs):
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
        description=(
            "Benchmark responder's Falco intake against a durable and a bare aiohttp handler."
        )
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
    add_output_arguments(
        parser, "after the measured runs, profile one more responder run with py-spy"
    )
    parser.add_argument(
        "--profile-connections",
        type=int,
        metavar="N",
        help="connections for the profiled run (default: the first of --connections)",
    )
    args = parser.parse_args(argv)
    connections = counts(parser, "--connections", str(args.connections), None)
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
        **outputs_from(args),
        profile_connections=args.profile_connections,
        rule=args.rule,
    )


@contextlib.contextmanager
def intake_responder(workdir: Path, wrk: Wrk) -> Iterator[Server]:
    """`responder serve` on the shipped playbooks, pinned like the bare handler; ready on /healthz."""
    prefix = wrk.placement.server_prefix()
    with serve_responder(workdir, ready_path="/healthz", prefix=prefix) as running:
        yield running


def warm_and_measure(
    wrk: Wrk, options: Options, running: Server, connections: int
) -> tuple[WrkResult | None, WrkResult, float | None]:
    """The warm-up (if any), the measured run, and the server's CPU-seconds over the latter."""
    nonce = uuid.uuid4().hex[:8]
    port = running.port
    warm = None
    if options.warmup:
        warm = wrk.run(INTAKE_PATH, port, connections, options.warmup, f"w{nonce}", options.rule)
    print(
        f"  {running.name}: measuring {options.duration} s at {connections} connections",
        flush=True,
    )
    meter = CpuMeter(running.pid)
    meter.start()
    main = wrk.run(INTAKE_PATH, port, connections, options.duration, f"m{nonce}", options.rule)
    return warm, main, meter.stop().server_s


def explain_failures(running: Server, results: Sequence[WrkResult | None]) -> None:
    """Say right away why a run went wrong, with the end of the server's log."""
    non_2xx: dict[str, int] = {}
    for result in results:
        for status, count in (result.statuses if result else {}).items():
            non_2xx[status] = non_2xx.get(status, 0) + count
    problems = []
    if text := odd_statuses(non_2xx):
        problems.append(f"non-2xx answers: {text}")
    if running.notes:
        problems.append(f"stop was not clean: {'; '.join(running.notes)}")
    if problems:
        print(f"  {running.name}: {'; '.join(problems)}; end of its log:", flush=True)
        print(indent(log_tail(running.log, 8)), flush=True)


def bench_bare(wrk: Wrk, options: Options, connections: int) -> Run:
    """One run of the bare handler."""
    with scratch("bare-bench-") as workdir:
        with serve_bare(workdir, wrk.placement.server_prefix()) as running:
            warm, main, cpu = warm_and_measure(wrk, options, running, connections)
        explain_failures(running, [warm, main])
    return Run("bare", connections, main, stop_notes=tuple(running.notes), cpu_s=cpu)


def bench_durable(wrk: Wrk, options: Options, connections: int) -> Run:
    """One run of the durable reference on a fresh file, then the same row check as responder's."""
    with scratch("durable-bench-") as workdir:
        with serve_durable(workdir, wrk.placement.server_prefix()) as running:
            warm, main, cpu = warm_and_measure(wrk, options, running, connections)
        explain_failures(running, [warm, main])
        rows = reference_rows(workdir)
    runs = [r for r in (warm, main) if r is not None]
    check = JournalCheck(rows, sum(r.ok_2xx for r in runs), sum(r.sent for r in runs))
    return Run("durable", connections, main, check, tuple(running.notes), cpu)


def bench_responder(wrk: Wrk, options: Options, connections: int) -> Run:
    """One run of responder on a fresh journal, then the journal check."""
    with scratch("responder-bench-") as workdir:
        with intake_responder(workdir, wrk) as running:
            warm, main, cpu = warm_and_measure(wrk, options, running, connections)
        explain_failures(running, [warm, main])
        # Rows committed before an unclean stop are on disk all the same: the check stands.
        rows = journal_rows(running.data_dir)
    runs = [r for r in (warm, main) if r is not None]
    check = JournalCheck(
        rows=rows,
        acknowledged=sum(r.ok_2xx for r in runs),
        sent=sum(r.sent for r in runs),
    )
    return Run("responder", connections, main, check, tuple(running.notes), cpu)


def profile_responder(wrk: Wrk, options: Options, connections: int, profile: Profile) -> None:
    """One extra responder run under `py-spy record` (all threads, active samples only)."""
    with scratch("responder-profile-") as workdir, intake_responder(workdir, wrk) as running:
        port = running.port
        if options.warmup:
            wrk.run(INTAKE_PATH, port, connections, options.warmup, "pw", options.rule)
        prefix = wrk.placement.client_prefix()
        with py_spy(running.pid, profile, rate=200, prefix=prefix):
            result = wrk.run(INTAKE_PATH, port, connections, options.duration, "pm", options.rule)
    print(
        f"  profile: {profile.out} ({profile.format}); under py-spy the responder did "
        f"{result.rps:,.0f} req/s, p99 {result.p99_ms:.1f} ms (not comparable)",
        flush=True,
    )


def run_all(wrk: Wrk, options: Options) -> list[Run]:
    """Bare, durable and responder at each connection count, then the profiled run."""
    runs: list[Run] = []
    for connections in options.connections:
        runs.append(bench_bare(wrk, options, connections))
        runs.append(bench_durable(wrk, options, connections))
        runs.append(bench_responder(wrk, options, connections))
    if options.profile is not None:
        connections = options.profile_connections or options.connections[0]
        profile_responder(wrk, options, connections, options.profile)
    return runs


def _row(run: Run, versus: Sequence[str]) -> list[str]:
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
        *versus,
    ]


def _by(runs: Sequence[Run], server: str) -> dict[int, WrkResult]:
    return {r.connections: r.result for r in runs if r.server == server}


def print_table(runs: Sequence[Run]) -> None:
    """The figures, one line per server and connection count, responder beside the references."""
    headers = ["conns", "server", "req/s", "p50 ms", "p99 ms", "non-2xx", "sock err", "CPU µs/2xx"]
    headers += ["req/s / durable", "p99 / durable", "req/s / bare"]
    bare, durable = _by(runs, "bare"), _by(runs, "durable")
    rows = []
    for run in runs:
        versus = ["", "", ""]
        ref, top = durable.get(run.connections), bare.get(run.connections)
        if run.server == "responder" and ref is not None:
            versus[0] = ratio(run.result.rps, ref.rps)
            versus[1] = ratio(run.result.p99_ms, ref.p99_ms)
        if run.server != "bare" and top is not None:
            versus[2] = ratio(run.result.rps, top.rps)
        rows.append(_row(run, versus))
    table(headers, rows, left=0, indent="")


def verdicts(runs: Sequence[Run]) -> list[str]:
    """The issue's targets against the durable reference of the same run, met or not met."""
    durable = _by(runs, "durable")
    lines = []
    for run in runs:
        base = durable.get(run.connections)
        if run.server != "responder" or base is None or not base.rps:
            continue
        share = run.result.rps / base.rps
        lines.append(
            f"throughput >= {RATIO_TARGET} x durable at {run.connections} connections: "
            f"{run.result.rps:,.0f} / {base.rps:,.0f} req/s = {share:.2f} "
            f"-> {verdict(share >= RATIO_TARGET)}"
        )
        bound = P99_FACTOR * base.p99_ms
        lines.append(
            f"p99 <= {P99_FACTOR:g} x durable at {run.connections} connections: "
            f"{run.result.p99_ms:.2f} ms against {base.p99_ms:.2f} x {P99_FACTOR:g} = "
            f"{bound:.2f} ms -> {verdict(run.result.p99_ms <= bound)}"
        )
    return lines


def figures(env: dict[str, str], options: Options, runs: Sequence[Run]) -> dict[str, Any]:
    """Every figure, for `--json`."""
    return {
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


def report(runs: Sequence[Run]) -> bool:
    """Print the table, the journal checks and the targets; True when every check held."""
    print()
    print_table(runs)
    print()
    print("req/s: 2xx answers per second; p50/p99: wrk's latency from request sent to answer read")
    print(
        "CPU µs/2xx: the server process's user + system CPU time over the measured run (every "
        "thread, /proc/PID/stat) divided by its 2xx answers; ratios: that server's figure / the "
        "same figure of the durable reference (or of the bare handler) at the same connections"
    )
    held = True
    for run in runs:
        if run.journal is not None:
            print(
                f"row check, {run.server} at {run.connections} connections: "
                f"{run.journal.describe()}"
            )
            held = held and run.journal.ok
    for run in runs:
        if run.result.non_2xx:
            print(
                f"non-2xx from {run.server} at {run.connections} connections: "
                f"{odd_statuses(run.result.statuses)}"
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
    wrk_path = shutil.which("wrk")
    if wrk_path is None:
        print(WRK_INSTALL_HINT, file=stderr)
        return EXIT_MISSING
    if options.profile is not None and find_py_spy() is None:
        print(PY_SPY_HINT, file=stderr)
        return EXIT_MISSING
    placement, note = placement_for(options.pin)
    wrk = Wrk(wrk_path, LUA_SCRIPT, options.threads, placement)
    tools = {"wrk": tool_version([wrk_path, "--version"]), "placement": placement.describe()}
    env = environment(tools)
    load = (
        f"wrk, {options.threads} threads, {options.warmup} s warm-up then "
        f"{options.duration} s measured, per server and connection count"
    )
    print_header(TITLE, [*env.items(), *([("note", note)] if note else []), ("load", load)])
    interruptible()
    status, runs = attempt(lambda: run_all(wrk, options), stderr)
    return finish(status, runs, report, options.json_out, lambda done: figures(env, options, done))


if __name__ == "__main__":
    sys.exit(main())
