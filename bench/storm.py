"""Storm benchmark: 10,000 Falco events for 50 containers in about 10 s, against references.

Run from the repository with the project's virtualenv, with a Docker engine on the local socket:

    .venv/bin/python bench/storm.py

What issue 7 item 1 asks: "a storm: 10,000 Falco events for 50 containers within about 10
seconds: exactly 50 incidents, each container contained once, every event acknowledged; report
peak memory of the server (target under 200 MB) and how long until all 50 are contained."

1. Containers. `--containers` (50) running containers from the tests' busybox image, labelled
   `environment=production`, so that the shipped playbook `contain-shell-in-production`
   (playbooks/30-contain-shell-in-container.yaml: docker:snapshot, docker:isolate, docker:pause,
   notify) matches them; 50 more for the SDK reference.
2. References, measured in the same run on the same machine:
   - containment: the raw Docker SDK on the reference containers, with as many threads as
     `limits.concurrency`: `pause` alone, then the playbook's Docker calls (the snapshot's
     top, inspect, logs and diff, a disconnect from every network, pause). Wall time from the
     first call to the last pause event.
   - intake: `bench/bare_server.py` (read the body, `json.loads`, answer 202) receiving the same
     POSTs from the same client at the same rate: acknowledgement latency, CPU, peak memory.
3. The storm. `responder serve` as a process, with a fresh data directory, the shipped playbooks
   and a config that raises `limits.max_containments` to `--max-containments` (default: the
   number of containers; the shipped default, 5 per 10 minutes, would hold all but five) and
   sets `limits.concurrency` to `--concurrency`. `--events` (10,000) Falco `Terminal shell in
   container` events, spread evenly over the containers and, at a steady rate, over
   `--seconds` (10), each unique (time, pid, tty, output), sent by aiohttp over `--connections`
   (32) keep-alive connections. Then wait until every container is paused and every event is
   counted in an incident.

Measured: 2xx answers (every one is an acknowledgement: the event is journaled and fsynced),
acknowledgement latency p50/p99/max, the engine's pause and network-disconnect events of every
container (its event stream, `timeNano`), time from the first POST to the first, median and
last container paused, when the last event was dispatched (the audit log), the server's CPU
time and its peak resident memory (`VmHWM` of /proc/PID/status, read before it stops).

Correctness checks (the exit status is 1 when one fails): every POST answered 2xx; the journal
holds exactly `--events` rows; exactly one incident per container, each `contained` by
`contain-shell-in-production` after running its four steps once each (all `done`), with
`event_count` equal to the events sent for its container (so they sum to `--events`); on the
engine, each container paused exactly once and taken off each of its networks, never unpaused
or reconnected (a network cannot be left twice without rejoining it; Docker 20.10 reports two
`disconnect` events for one disconnect, so events are not simply counted), and paused on no
network at the end. Performance targets are printed as "met" or "NOT met" and do not change the
exit status.

`--profile FILE` records the server with py-spy during the storm (every thread, or only the one
holding the GIL with `--profile-gil`); that run's figures are then marked as measured under
py-spy. Containers are named `responder-bench-RUN-...`, labelled `responder-bench=RUN`, and
removed at the end, also on Ctrl-C, SIGTERM or an error. Only 127.0.0.1 is ever targeted, and
every wait has a deadline.

Exit status: 0 when every check held; 1 when a check or a run failed; 2 when no engine answers,
no busybox is there to build the image from, or py-spy is missing for `--profile`; 130 on
Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import IO, TYPE_CHECKING, Any

from harness import BenchError
from harness.api import FINAL_STATES, Api, Incident, stamp_ns
from harness.containers import engine_state
from harness.engine_log import ACTIONS
from harness.falco import shell_event
from harness.figures import Spread, odd_statuses, ratio, table, verdict
from harness.machine import Cpu, CpuMeter, process_memory_kb
from harness.paced import Load, send_paced
from harness.processes import indent, log_tail, scratch
from harness.profiling import py_spy
from harness.run import EngineBench, Outputs, add_output_arguments, outputs_from, run_on_engine
from harness.sdk import SdkPlaybook, at_once
from harness.servers import AUDIT_FILE, Limits, journal_rows, serve_bare, serve_responder

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from harness.containers import Box
    from harness.engine_log import EngineEvent
    from harness.processes import Server
    from harness.run import Engine

RULE = "Terminal shell in container"
PLAYBOOK = "contain-shell-in-production"
PRODUCTION = {"environment": "production"}
PLAYBOOK_STEPS = ("docker:snapshot", "docker:isolate", "docker:pause")
EXPECTED_STEPS = ("docker:snapshot done", "docker:isolate done", "docker:pause done", "notify done")

CONTAIN_TIMEOUT_S = 180.0
POLL_S = 0.1
SETTLE_S = 1.0


@dataclass(frozen=True)
class Options(Outputs):
    """The command line."""

    events: int
    containers: int
    seconds: float
    connections: int
    concurrency: int
    max_containments: int


def parse_args(argv: Sequence[str] | None) -> Options:
    """Read and check the command line."""
    parser = argparse.ArgumentParser(
        description="A storm of Falco events for a fleet of containers against responder serve, "
        "with the bare intake handler and the raw Docker SDK as references in the same run."
    )
    parser.add_argument("--events", type=int, default=10_000, help="Falco events (10000)")
    parser.add_argument("--containers", type=int, default=50, help="containers (50)")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="spread the events over this many s (10)"
    )
    parser.add_argument(
        "--connections", type=int, default=32, help="concurrent client connections (32)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="limits.concurrency of the server, and the SDK reference's threads (8, the default)",
    )
    parser.add_argument(
        "--max-containments",
        type=int,
        metavar="N",
        help="limits.max_containments per 1h window (default: --containers)",
    )
    add_output_arguments(parser, "record the server with py-spy during the storm")
    args = parser.parse_args(argv)
    if args.containers < 1 or args.events < args.containers:
        parser.error("--containers must be >= 1 and --events >= --containers")
    if args.seconds <= 0:
        parser.error("--seconds must be > 0")
    if not 1 <= args.connections <= 1024:
        parser.error("--connections: from 1 to 1024")
    if not 1 <= args.concurrency <= 256:
        parser.error("--concurrency: from 1 to 256 (what limits.concurrency allows)")
    max_containments = args.max_containments or args.containers
    if max_containments < args.containers:
        parser.error(f"--max-containments: at least {args.containers}, or incidents are held")
    return Options(
        events=args.events,
        containers=args.containers,
        seconds=args.seconds,
        connections=args.connections,
        concurrency=args.concurrency,
        max_containments=max_containments,
        **outputs_from(args),
    )


# -- the raw SDK reference -------------------------------------------------------------------


@dataclass(frozen=True)
class SdkRun:
    """The raw SDK on the reference containers, with `threads` threads."""

    what: str
    threads: int
    paused: Spread
    cpu: Cpu


def sdk_reference(engine: Engine, boxes: Sequence[Box], threads: int) -> list[SdkRun]:
    """Pause alone, unpause, then the playbook's calls: each with `threads` threads at once."""
    pause = SdkPlaybook(engine.client, ["docker:pause"])
    playbook = SdkPlaybook(engine.client, PLAYBOOK_STEPS)
    runs = []
    for what, sdk in (("pause", pause), ("snapshot + isolate + pause", playbook)):
        print(f"reference: raw SDK, {what}, {len(boxes)} containers, {threads} threads", flush=True)
        timed = at_once(sdk.contain, boxes, threads, engine.log)
        runs.append(SdkRun(what, threads, timed.spread, timed.cpu))
        if sdk is pause:
            pause.undo_all(boxes, threads)
            time.sleep(0.2)
    return runs


# -- the load --------------------------------------------------------------------------------


def storm_bodies(boxes: Sequence[Box], options: Options, run_id: str) -> list[bytes]:
    """One unique Falco `Terminal shell in container` event per request, round robin."""
    start = time.time() + 1.0
    interval = options.seconds / options.events
    return [
        shell_event(RULE, boxes[seq % len(boxes)], seq, start + seq * interval, run_id)
        for seq in range(options.events)
    ]


@dataclass(frozen=True)
class IntakeRun:
    """One server receiving the storm: the load, its CPU time and its peak memory."""

    server: str
    load: Load
    cpu: Cpu
    peak_rss_kb: int | None
    rss_before_kb: int | None
    stop_notes: list[str]


def bare_reference(bodies: Sequence[bytes], options: Options) -> IntakeRun:
    """The same POSTs, from the same client at the same rate, to the bare aiohttp handler."""
    print(
        f"reference: bare aiohttp handler, {options.events} POSTs over {options.seconds:g} s",
        flush=True,
    )
    with scratch("bare-storm-") as workdir, serve_bare(workdir) as running:
        before = process_memory_kb(running.pid, "VmRSS")
        meter = CpuMeter(running.pid)
        meter.start()
        load = send_paced(running.port, bodies, options.seconds, options.connections)
        cpu = meter.stop()
        peak = process_memory_kb(running.pid)
    return IntakeRun("bare", load, cpu, peak, before, running.notes)


# -- the storm -------------------------------------------------------------------------------


@dataclass
class Storm:
    """What the responder did with the storm."""

    intake: IntakeRun
    profiled: bool
    paused: Spread | None = None
    isolated: Spread | None = None
    finished: Spread | None = None
    all_counted_s: float | None = None
    """From the first POST until the incidents counted every event (seen by polling)."""
    last_dispatch_s: float | None = None
    """From the first POST to the audit line of the last event dispatched."""
    busy_cpu: Cpu | None = None
    """From the first POST until every container was paused and every event counted."""
    journal_rows: int | None = None
    incidents: list[dict[str, Any]] = field(default_factory=list)
    engine: dict[str, dict[str, int]] = field(default_factory=dict)
    """Container id -> engine action -> count, from the first POST to the end."""
    disconnects: dict[str, dict[str, int]] = field(default_factory=dict)
    """Container id -> network -> disconnect events, from the first POST to the end."""
    networks: dict[str, list[str]] = field(default_factory=dict)
    """Container id -> the networks it was on before the storm."""
    end_state: dict[str, tuple[bool, list[str]]] = field(default_factory=dict)
    """Container id -> (paused, networks) at the end."""
    audit: dict[str, int] = field(default_factory=dict)
    """Audit line kinds -> count."""
    problems: list[str] = field(default_factory=list)
    """Waits that ran out: the checks then say what is missing."""


def wait_counted(api: Api, options: Options, start_ns: int) -> float:
    """Poll until the incidents are final and count every event; s from the first POST."""

    def missing(incidents: list[Incident]) -> str | None:
        counted = sum(int(i["event_count"]) for i in incidents)
        running = sum(i["state"] not in FINAL_STATES for i in incidents)
        if counted >= options.events and not running and len(incidents) >= options.containers:
            return None
        return (
            f"{len(incidents)} incidents counting {counted} of {options.events} events, "
            f"{running} not final"
        )

    api.wait_incidents(missing, CONTAIN_TIMEOUT_S, POLL_S)
    return (time.time_ns() - start_ns) / 1e9


def read_audit(path: Path) -> tuple[Counter[str], int | None]:
    """Lines per kind (and `bytes`), and when the last `event.accepted` line was recorded."""
    kinds: Counter[str] = Counter()
    last: int | None = None
    with path.open("rb") as lines:
        for raw in lines:
            record = json.loads(raw)
            kinds[record["kind"]] += 1
            kinds["bytes"] += len(raw)
            if record["kind"] == "event.accepted":
                last = stamp_ns(record["time"])
    return kinds, last


def storm_on(running: Server, engine: Engine, boxes: Sequence[Box], options: Options) -> Storm:
    """The storm against a running responder, until every container is paused and event counted."""
    bodies = storm_bodies(boxes, options, engine.boxes.run_id)
    before = process_memory_kb(running.pid, "VmRSS")
    print(
        f"storm: {options.events} POSTs for {options.containers} containers over "
        f"{options.seconds:g} s, {options.connections} connections"
        + (" (under py-spy)" if options.profile else ""),
        flush=True,
    )
    api = Api(running.port)
    problems = []
    meter = CpuMeter(running.pid)
    with py_spy(running.pid, options.profile):
        meter.start()
        load = send_paced(running.port, bodies, options.seconds, options.connections)
        counted = None
        try:
            counted = wait_counted(api, options, load.first_sent_ns)
        except BenchError as exc:
            problems.append(str(exc))
        try:
            engine.log.wait_paused([b.id for b in boxes], load.first_sent_ns, CONTAIN_TIMEOUT_S)
        except BenchError as exc:
            problems.append(str(exc))
        busy = meter.stop()
    time.sleep(SETTLE_S)  # a second pause or disconnect would show by now
    peak = process_memory_kb(running.pid)
    full = [api.incident(i["id"]) for i in api.incidents()]
    return Storm(
        intake=IntakeRun("responder", load, busy, peak, before, running.notes),
        profiled=options.profile is not None,
        all_counted_s=counted,
        busy_cpu=busy,
        incidents=full,
        problems=problems,
    )


def run_storm(engine: Engine, boxes: Sequence[Box], options: Options) -> Storm:
    """The responder under the storm, then every figure and fact the checks need."""
    ids = [box.id for box in boxes]
    networks = {i: nets for i, (_, nets) in engine_state(engine.client, boxes).items()}
    limits = Limits(options.max_containments, options.concurrency)
    with scratch("responder-storm-") as workdir:
        with serve_responder(workdir, limits=limits) as running:
            storm = storm_on(running, engine, boxes, options)
        if running.notes:
            print(f"  server log:\n{indent(log_tail(running.log, 8))}", flush=True)
        storm.journal_rows = journal_rows(running.data_dir)
        kinds, last_dispatch = read_audit(running.data_dir / AUDIT_FILE)
    start = storm.intake.load.first_sent_ns
    finished = [t for i in storm.incidents if (t := stamp_ns(i.get("finished_at"))) is not None]
    storm.finished = Spread.of(start, finished) if finished else None
    storm.last_dispatch_s = (last_dispatch - start) / 1e9 if last_dispatch else None
    storm.networks = networks
    storm.end_state = engine_state(engine.client, boxes)
    storm.audit = dict(kinds)
    add_engine_events(storm, engine.log.since(start, ids), ids, start)
    return storm


def add_engine_events(
    storm: Storm, events: Sequence[EngineEvent], ids: Sequence[str], start_ns: int
) -> None:
    """What the engine did to each container: counts, and when each was cut off and paused."""
    storm.engine = {i: dict.fromkeys(ACTIONS, 0) for i in ids}
    storm.disconnects = {i: {} for i in ids}
    first_pause: dict[str, int] = {}
    first_cut: dict[str, int] = {}
    for e in events:
        storm.engine[e.container][e.action] += 1
        if e.action == "pause":
            first_pause.setdefault(e.container, e.engine_ns)
        elif e.action == "disconnect" and e.network is not None:
            first_cut.setdefault(e.container, e.engine_ns)
            cut = storm.disconnects[e.container]
            cut[e.network] = cut.get(e.network, 0) + 1
    storm.paused = Spread.of(start_ns, first_pause.values()) if first_pause else None
    storm.isolated = Spread.of(start_ns, first_cut.values()) if first_cut else None


# -- checks and report -----------------------------------------------------------------------

MEMORY_TARGET_MB = 200.0
CONTAINED_SDK_FACTOR = 1.3
"""Issue 17: all contained within this many times the raw SDK making the playbook's calls."""


@dataclass(frozen=True)
class Check:
    """One correctness property, and whether it held."""

    what: str
    ok: bool
    detail: str


def checks(storm: Storm, boxes: Sequence[Box], options: Options) -> list[Check]:
    """The issue's properties: every event acknowledged, one incident and one containment each."""
    load = storm.intake.load
    # Incidents hold the 12-digit id that Falco sends.
    per_box = Counter(boxes[seq % len(boxes)].short_id for seq in range(options.events))
    incidents = storm.incidents
    by_container: dict[str, list[dict[str, Any]]] = {}
    for incident in incidents:
        by_container.setdefault(str(incident.get("container_id"))[:12], []).append(incident)
    states = Counter(str(i["state"]) for i in incidents)
    playbooks = Counter(str(i["playbook"]) for i in incidents)
    steps = Counter(
        tuple(f"{step['action']} {step['status']}" for step in i.get("steps", ()))
        for i in incidents
    )
    counts_ok = [
        len(by_container.get(box.short_id, [])) == 1
        and int(by_container[box.short_id][0]["event_count"]) == per_box[box.short_id]
        for box in boxes
    ]
    total = sum(int(i["event_count"]) for i in incidents)
    pauses = Counter(storm.engine[b.id]["pause"] for b in boxes)
    undone = sum(storm.engine[b.id]["unpause"] + storm.engine[b.id]["connect"] for b in boxes)
    # A container cannot leave a network twice without rejoining it in between, and this
    # engine (20.10) reports two disconnect events for one disconnect: so each network left,
    # none rejoined, is "isolated once".
    cut_ok = [set(storm.disconnects[b.id]) == set(storm.networks[b.id]) for b in boxes]
    per_cut = Counter(n for b in boxes for n in storm.disconnects[b.id].values())
    end_ok = [storm.end_state[b.id] == (True, []) for b in boxes]
    return [
        Check(
            "every POST acknowledged (2xx)",
            load.acknowledged == options.events and load.failed == 0,
            f"{load.acknowledged} of {options.events}"
            + (f"; others: {odd_statuses(load.statuses)}" if load.failed else ""),
        ),
        Check(
            "the journal holds every event once",
            storm.journal_rows == options.events,
            f"{storm.journal_rows} rows",
        ),
        Check(
            f"exactly {options.containers} incidents, one per container",
            len(incidents) == options.containers
            and set(by_container) == {b.short_id for b in boxes}
            and all(len(found) == 1 for found in by_container.values()),
            f"{len(incidents)} incidents on {len(by_container)} containers",
        ),
        Check(
            "each incident ran its four steps once, each done",
            steps == Counter({EXPECTED_STEPS: options.containers}),
            "; ".join(f"{n} x [{', '.join(k)}]" for k, n in steps.items()) or "no incidents",
        ),
        Check(
            f"every incident contained by {PLAYBOOK}",
            states == Counter({"contained": options.containers})
            and playbooks == Counter({PLAYBOOK: options.containers}),
            f"states {dict(states)}, playbooks {dict(playbooks)}",
        ),
        Check(
            "each incident counts its container's events (sum = events)",
            all(counts_ok) and total == options.events,
            f"sum of event_count {total}; {sum(counts_ok)} of {len(boxes)} containers exact "
            f"({options.events // len(boxes)} events each)",
        ),
        Check(
            "each container paused exactly once",
            pauses == Counter({1: len(boxes)}) and undone == 0,
            f"pauses per container: {dict(sorted(pauses.items()))}; unpauses and reconnects "
            f"{undone}",
        ),
        Check(
            "each container isolated once: off each of its networks, never reconnected",
            all(cut_ok) and undone == 0,
            f"{sum(cut_ok)} of {len(boxes)} (networks before: "
            f"{sorted({n for ns in storm.networks.values() for n in ns})}; engine disconnect "
            f"events per network: {dict(sorted(per_cut.items()))})",
        ),
        Check(
            "at the end every container is paused and on no network",
            all(end_ok),
            f"{sum(end_ok)} of {len(boxes)}",
        ),
    ]


def _mb(kb: int | None) -> str:
    return f"{kb / 1024:.1f}" if kb is not None else "?"


@dataclass(frozen=True)
class Results:
    """Everything one run measured."""

    sdk: list[SdkRun]
    bare: IntakeRun
    storm: Storm
    boxes: list[Box]
    """The storm's containers."""


def _spread_row(name: str, spread: Spread) -> list[str]:
    return [name, f"{spread.first_s:.3f}", f"{spread.median_s:.3f}", f"{spread.last_s:.3f}"]


def _intake_row(run: IntakeRun) -> list[str]:
    lat = run.load.latency()
    return [
        run.server,
        f"{run.load.acknowledged}",
        f"{run.load.failed}",
        f"{lat['p50']:.2f}",
        f"{lat['p99']:.2f}",
        f"{lat['max']:.1f}",
        f"{(run.load.last_sent_ns - run.load.first_sent_ns) / 1e9:.2f}",
        f"{run.cpu.server_s:.2f}" if run.cpu.server_s is not None else "?",
        _mb(run.rss_before_kb),
        _mb(run.peak_rss_kb),
    ]


def report_intake(results: Results, options: Options) -> None:
    """The intake table: the bare handler, the responder, and their ratio."""
    bare, ours = results.bare, results.storm.intake
    under = " (responder under py-spy: not comparable)" if results.storm.profiled else ""
    print()
    print(
        f"intake: {options.events} POSTs over {options.seconds:g} s on {options.connections} "
        f"connections, the same bodies and schedule for both servers{under}"
    )
    b, r = bare.load.latency(), ours.load.latency()
    ratios = [
        "ratio",
        "",
        "",
        ratio(r["p50"], b["p50"]),
        ratio(r["p99"], b["p99"]),
        ratio(r["max"], b["max"]),
        "",
        ratio(ours.cpu.server_s, bare.cpu.server_s),
        ratio(ours.rss_before_kb, bare.rss_before_kb),
        ratio(ours.peak_rss_kb, bare.peak_rss_kb),
    ]
    headers = ["server", "2xx", "other", "p50 ms", "p99 ms", "max ms", "send s", "CPU-s"]
    table([*headers, "RSS MB", "peak MB"], [_intake_row(bare), _intake_row(ours), ratios])
    print(
        "  p50/p99/max: from writing a request to reading its answer; send s: first to last POST"
        " sent; CPU-s: the server's (responder: from the first POST until every container was"
        " paused and every event counted; bare: until the last answer); RSS MB: before the"
        " load; peak MB: VmHWM at the end"
    )
    print(
        f"  the most delayed request left {ours.load.max_late_ms:.1f} ms after its slot "
        f"(bare: {bare.load.max_late_ms:.1f} ms): more means every connection was waiting; "
        f"the client itself used {ours.load.client_cpu_s:.2f} CPU-s "
        f"(bare: {bare.load.client_cpu_s:.2f}) on the same {os.cpu_count()} CPUs"
    )
    spans = ours.load.by_second()
    print("  responder, by the second the request was sent: p50 / p99 / max ms")
    for start in range(0, len(spans), 4):
        print(
            "    "
            + "   ".join(
                f"{second:2d}s {p50:5.1f} /{p99:6.1f} /{top:6.1f}"
                for second, p50, p99, top in spans[start : start + 4]
            )
        )


def report_containment(results: Results, options: Options) -> None:
    """When the containers were cut off and paused, against the raw SDK."""
    storm = results.storm
    under = " (responder under py-spy: not comparable)" if storm.profiled else ""
    print()
    print(
        f"containment: {options.containers} containers, s from the first request (or SDK call) "
        f"to the engine's event{under}"
    )
    rows = [_spread_row(f"raw SDK: {r.what}, {r.threads} threads", r.paused) for r in results.sdk]
    for name, spread in (
        ("responder: disconnected", storm.isolated),
        ("responder: paused (contained)", storm.paused),
        ("responder: incident finished", storm.finished),
    ):
        if spread is not None:
            rows.append(_spread_row(name, spread))
    table(["", "first", "median", "last"], rows)
    reference = next((run for run in results.sdk if run.what != "pause"), None)
    if storm.paused and reference:
        print(
            f"  ratio, all {options.containers} contained: responder in the storm / raw SDK making "
            f"the playbook's calls = {storm.paused.last_s:.3f} / {reference.paused.last_s:.3f} = "
            f"{storm.paused.last_s / reference.paused.last_s:.2f}"
        )
    if storm.last_dispatch_s is not None and storm.all_counted_s is not None:
        print(
            f"  last event dispatched {storm.last_dispatch_s:.3f} s after the first POST (its "
            f"audit line); every event counted in its incident when polled at "
            f"{storm.all_counted_s:.3f} s"
        )
    if storm.busy_cpu is not None:
        print(
            f"  machine CPUs busy {storm.busy_cpu.busy:.0%} over those "
            f"{storm.busy_cpu.elapsed_s:.2f} s"
        )
    kinds = sorted(
        ((k, n) for k, n in storm.audit.items() if k != "bytes"), key=lambda item: -item[1]
    )
    print(
        f"  audit lines: {sum(n for _, n in kinds)}, {storm.audit.get('bytes', 0) / 1e6:.1f} MB "
        f"({', '.join(f'{k} {n}' for k, n in kinds)})"
    )


def report(results: Results, options: Options) -> bool:
    """Print the figures, the ratios, the checks and the target; True when every check held."""
    report_intake(results, options)
    report_containment(results, options)
    storm = results.storm
    print()
    for problem in storm.problems:
        print(f"wait ran out: {problem}")
    held = True
    for check in checks(storm, results.boxes, options):
        print(f"check: {check.what}: {check.detail}: {'OK' if check.ok else 'FAILED'}")
        held = held and check.ok
    if notes := [*storm.intake.stop_notes, *results.bare.stop_notes]:
        print(f"warning: a server did not stop cleanly: {'; '.join(notes)}")
    peak = storm.intake.peak_rss_kb
    met = verdict(peak is not None and peak / 1024 < MEMORY_TARGET_MB)
    print(f"target: server peak memory < {MEMORY_TARGET_MB:g} MB: {_mb(peak)} MB -> {met}")
    reference = next((run for run in results.sdk if run.what != "pause"), None)
    if storm.paused and reference:
        factor = storm.paused.last_s / reference.paused.last_s
        print(
            f"target: all {options.containers} contained <= {CONTAINED_SDK_FACTOR:g} x the raw SDK "
            f"making the playbook's calls: {storm.paused.last_s:.3f} / "
            f"{reference.paused.last_s:.3f} s = {factor:.2f} "
            f"-> {verdict(factor <= CONTAINED_SDK_FACTOR)}"
        )
    return held


def figures(results: Results, options: Options) -> dict[str, Any]:
    """Every figure, for `--json`."""

    def intake(run: IntakeRun) -> dict[str, Any]:
        return {
            "server": run.server,
            "load": run.load.summary(),
            "cpu": asdict(run.cpu),
            "peak_rss_kb": run.peak_rss_kb,
            "rss_before_kb": run.rss_before_kb,
            "stop_notes": run.stop_notes,
        }

    storm = results.storm
    return {
        "intake": [intake(results.bare), intake(storm.intake)],
        "sdk": [asdict(run) for run in results.sdk],
        "storm": {
            "paused": asdict(storm.paused) if storm.paused else None,
            "isolated": asdict(storm.isolated) if storm.isolated else None,
            "finished": asdict(storm.finished) if storm.finished else None,
            "all_counted_s": storm.all_counted_s,
            "last_dispatch_s": storm.last_dispatch_s,
            "busy_cpu": asdict(storm.busy_cpu) if storm.busy_cpu else None,
            "journal_rows": storm.journal_rows,
            "audit": storm.audit,
            "engine": storm.engine,
            "profiled": storm.profiled,
            "problems": storm.problems,
        },
        "checks": [asdict(c) for c in checks(storm, results.boxes, options)],
    }


def run_all(engine: Engine, options: Options) -> Results:
    """The containers, the SDK reference, the bare reference, then the storm."""
    print(f"making {2 * options.containers} containers", flush=True)
    ours = engine.boxes.create(options.containers, "storm", PRODUCTION)
    theirs = engine.boxes.create(options.containers, "sdk", PRODUCTION)
    sdk = sdk_reference(engine, theirs, options.concurrency)
    engine.boxes.remove(theirs)
    bare = bare_reference(storm_bodies(ours, options, f"bare-{engine.boxes.run_id}"), options)
    storm = run_storm(engine, ours, options)
    return Results(sdk, bare, storm, ours)


def main(argv: Sequence[str] | None = None, stderr: IO[str] = sys.stderr) -> int:
    """Run the references and the storm, print the figures; the exit status says if all held."""
    options = parse_args(argv)
    bench = EngineBench(
        title="responder storm benchmark: Falco events for a fleet, against the bare handler and SDK",
        settings=f"{options.events} events, {options.containers} containers, "
        f"{options.seconds:g} s, {options.connections} connections; server: shipped playbooks "
        f"({PLAYBOOK}), limits.concurrency {options.concurrency}, limits.max_containments "
        f"raised to {options.max_containments} per 1h (the default, 5 per 10m, would hold all "
        "but 5 incidents)",
        options=options,
        measure=lambda engine: run_all(engine, options),
        report=lambda results: report(results, options),
        figures=lambda results: figures(results, options),
    )
    return run_on_engine(bench, stderr)


if __name__ == "__main__":
    sys.exit(main())
