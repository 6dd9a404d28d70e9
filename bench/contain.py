"""Containment benchmark: from a Falco POST to the container paused, against the raw Docker SDK.

Run from the repository with the project's virtualenv, with a Docker engine on the local socket:

    .venv/bin/python bench/contain.py

Two measurements, each against a reference taken in the same run on the same engine:

1. Time to contain. For each sample, a fresh running container; the clock starts when the POST
   of a Falco event naming it is sent to `responder serve` (a playbook whose only step is
   `docker:pause`) and stops at the engine's `pause` event for that container, read from the
   Docker event stream (its `timeNano`, the engine's own clock, which is this host's clock).
   The reference is the raw SDK `container.pause()` on another fresh container, timed the same
   way (from the call to the same event). Samples alternate between the two. The difference of
   the medians is the responder's overhead. The incident's own timestamps split the responder's
   time into intake, dispatch, runner and step.
2. Fleet. `--fleet` (50) running containers contained one by one (each POST waits for its
   container's pause before the next is sent) and at once (every POST written on its own open
   connection in one burst); wall time from the first POST sent to the last pause event. One
   server per `limits.concurrency` in `--concurrency` (8,16,32), each on fresh containers. The
   raw SDK makes the playbook's calls (pause; with `--isolate`, network disconnects first) on
   one set of containers, undone between runs: one by one, and with as many threads as each
   concurrency: what the engine itself allows on this machine. CPU use of the machine and of
   the server over each run, and when a burst's incidents were opened, started their step and
   were paused, say where the time goes.

The server gets a configuration that raises `limits.max_containments` (the default, 5 per 10
minutes, would hold all but five incidents). Every container is made from a local busybox image
(imported from the host's static busybox when missing, as the tests do), named
`responder-bench-RUN-...`, labelled `responder-bench=RUN`, and removed at the end, also on
Ctrl-C, SIGTERM or an error. Only 127.0.0.1 is ever targeted, and every wait has a deadline.

Exit status: 0 when every run completed and every incident ended "contained"; 1 when a run
failed; 2 when no engine answers or no busybox is there to build the image from; 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import IO, TYPE_CHECKING, Any

from harness import INTAKE_PATH, BenchError
from harness.api import FINAL_STATES, JSON_HEADERS, Api, Incident, stamp_ns
from harness.containers import engine_state
from harness.engine_log import FLEET_TIMEOUT_S, PAUSE_TIMEOUT_S
from harness.falco import shell_event
from harness.figures import summary, table, verdict
from harness.machine import Cpu, CpuMeter
from harness.processes import scratch
from harness.profiling import Profile, py_spy
from harness.run import (
    EngineBench,
    Outputs,
    add_output_arguments,
    counts,
    outputs_from,
    run_on_engine,
)
from harness.sdk import SdkPlaybook, Timed, at_once, one_by_one
from harness.servers import Limits, serve_responder

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator, Sequence

    from harness.containers import Box
    from harness.processes import Server
    from harness.run import Engine

RULE = "Responder benchmark containment"
PLAYBOOK = "bench-contain"

FINISH_TIMEOUT_S = 60.0
POLL_S = 0.02
SETTLE_S = 0.05


@dataclass(frozen=True)
class Options(Outputs):
    """The command line.

    The time-to-contain samples run on one server (`latency_concurrency`), the fleet on one
    server per `concurrency`; every server's containment limit is `max_containments` per 1h.
    """

    samples: int
    warmup: int
    latency_concurrency: int
    fleet: int
    concurrency: tuple[int, ...]
    isolate: bool
    max_containments: int


def parse_args(argv: Sequence[str] | None) -> Options:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description="Time from a Falco POST to the container paused, and a fleet contained at "
        "once against one by one, each against the raw Docker SDK in the same run."
    )
    parser.add_argument(
        "--samples", type=int, default=30, help="time-to-contain samples of each (30)"
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="samples of each before measuring, not counted (3)"
    )
    parser.add_argument(
        "--latency-concurrency",
        type=int,
        default=8,
        metavar="N",
        help="limits.concurrency of the time-to-contain server (8, the default setting)",
    )
    parser.add_argument("--fleet", type=int, default=50, help="containers in the fleet (50)")
    parser.add_argument(
        "--concurrency",
        default="8,16,32",
        help="limits.concurrency values for the fleet, one server each (8,16,32)",
    )
    parser.add_argument(
        "--isolate",
        action="store_true",
        help="fleet playbook: docker:isolate then docker:pause (default: docker:pause only)",
    )
    parser.add_argument(
        "--max-containments",
        type=int,
        default=1000,
        help="limits.max_containments per 1h window written to the servers' config (1000)",
    )
    add_output_arguments(
        parser, "after the measured runs, one more fleet-at-once run under py-spy record"
    )
    args = parser.parse_args(argv)
    concurrency = counts(parser, "--concurrency", str(args.concurrency), 256)
    if args.samples < 1 or args.warmup < 0 or args.fleet < 1:
        parser.error("--samples and --fleet must be >= 1, --warmup >= 0")
    if not 1 <= args.latency_concurrency <= 256:
        parser.error("--latency-concurrency: from 1 to 256")
    needed = max(args.samples + args.warmup, 2 * args.fleet + 2)  # on one server
    if args.max_containments < needed:
        parser.error(f"--max-containments: at least {needed}, or incidents would be held")
    return Options(
        samples=args.samples,
        warmup=args.warmup,
        latency_concurrency=args.latency_concurrency,
        fleet=args.fleet,
        concurrency=concurrency,
        isolate=args.isolate,
        max_containments=args.max_containments,
        **outputs_from(args),
    )


# -- the responder server --------------------------------------------------------------------


@contextlib.contextmanager
def contain_server(concurrency: int, options: Options, steps: Sequence[str]) -> Iterator[Server]:
    """`responder serve` with a playbook of only `steps` for the benchmark's rule."""
    with scratch("responder-contain-") as workdir:
        playbooks = workdir / "playbooks"
        playbooks.mkdir()
        lines = [
            f"name: {PLAYBOOK}",
            "description: benchmark playbook",
            "match:",
            "  source: falco",
            f"  rules: [{RULE}]",
            "steps:",
            *(f"  - action: {step}" for step in steps),
        ]
        (playbooks / "bench.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        limits = Limits(options.max_containments, concurrency)
        with serve_responder(workdir, playbooks, limits=limits) as running:
            yield running


def falco_bodies(boxes: Sequence[Box], run_id: str) -> dict[str, bytes]:
    """A Falco event naming each container, unique to it and this run; container id -> body."""
    now = time.time()
    return {box.id: shell_event(RULE, box, seq, now, run_id) for seq, box in enumerate(boxes)}


def finished(api: Api, boxes: Collection[Box]) -> dict[str, Incident]:
    """Wait until each container's incident is in a final state; container id -> incident."""
    short = {box.short_id: box.id for box in boxes}  # incidents hold the 12-digit id

    def by_container(incidents: list[Incident]) -> dict[str, Incident]:
        return {short[k]: i for i in incidents if (k := str(i["container_id"])[:12]) in short}

    def missing(incidents: list[Incident]) -> str | None:
        done = sum(i["state"] in FINAL_STATES for i in by_container(incidents).values())
        if done == len(short):
            return None
        return f"{len(short) - done} of {len(short)} incidents not finished"

    return by_container(api.wait_incidents(missing, FINISH_TIMEOUT_S, POLL_S))


def post_each(api: Api, boxes: Sequence[Box], run_id: str) -> Callable[[Box], None]:
    """What the responder is asked to do for each container: POST its event (made beforehand)."""
    bodies = falco_bodies(boxes, run_id)
    return lambda box: api.post_event(bodies[box.id])


# -- time to contain -------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One containment, on the host's clock (ns since the epoch)."""

    who: str
    """`sdk` or `responder`."""
    container: str
    sent_ns: int
    """The POST (or the SDK call) started."""
    answered_ns: int
    """The POST was answered (202), or the SDK call returned."""
    paused_ns: int
    """The engine's pause event."""
    seen_ns: int
    """We read that event."""
    opened_ns: int | None = None
    """The incident was opened (its `opened_at`)."""
    step_ns: int | None = None
    """The pause step started (its `started_at`)."""
    finished_ns: int | None = None
    """The incident was finished (its `finished_at`)."""

    @property
    def ms(self) -> float:
        """Time to contain."""
        return (self.paused_ns - self.sent_ns) / 1e6


def sdk_sample(engine: Engine, box: Box) -> Sample:
    """The reference: the SDK's `pause` call, timed to the engine's event."""
    sent = time.time_ns()
    engine.client.api.pause(box.id)
    answered = time.time_ns()
    pause = engine.log.wait_paused([box.id], sent, PAUSE_TIMEOUT_S)[box.id]
    return Sample("sdk", box.id, sent, answered, pause.engine_ns, pause.seen_ns)


def responder_sample(api: Api, engine: Engine, box: Box) -> Sample:
    """POST an event naming the container; timed to the engine's event; then its incident."""
    body = falco_bodies([box], engine.boxes.run_id)[box.id]
    sent = time.time_ns()
    api.post_event(body)
    answered = time.time_ns()
    pause = engine.log.wait_paused([box.id], sent, PAUSE_TIMEOUT_S)[box.id]
    incident = finished(api, [box])[box.id]
    if incident["state"] != "contained":
        raise BenchError(f"incident {incident['id']} ended {incident['state']!r}, not contained")
    full = api.incident(incident["id"])
    pause_steps = [s for s in full["steps"] if s["action"] == "docker:pause"]
    return Sample(
        "responder",
        box.id,
        sent,
        answered,
        pause.engine_ns,
        pause.seen_ns,
        opened_ns=stamp_ns(full["opened_at"]),
        step_ns=stamp_ns(pause_steps[0]["started_at"]) if pause_steps else None,
        finished_ns=stamp_ns(full["finished_at"]),
    )


@dataclass
class Latency:
    """Both series of the time-to-contain measurement."""

    concurrency: int
    sdk: list[Sample] = field(default_factory=list)
    responder: list[Sample] = field(default_factory=list)
    cpu: Cpu | None = None
    """Over the measured samples (both kinds)."""
    stop_notes: list[str] = field(default_factory=list)


def bench_latency(engine: Engine, options: Options) -> Latency:
    """Alternate an SDK sample and a responder sample, each on a fresh container."""
    total = options.warmup + options.samples
    print(
        f"time to contain: {total} containers for each ({options.warmup} warm-up), "
        f"limits.concurrency {options.latency_concurrency}",
        flush=True,
    )
    sdk_boxes = engine.boxes.create(total, "sdk")
    our_boxes = engine.boxes.create(total, "ttc")
    result = Latency(options.latency_concurrency)
    with contain_server(options.latency_concurrency, options, ["docker:pause"]) as running:
        api = Api(running.port)
        meter = CpuMeter(running.pid)
        for i in range(total):
            if i == options.warmup:
                meter.start()
            time.sleep(SETTLE_S)
            sdk = sdk_sample(engine, sdk_boxes[i])
            time.sleep(SETTLE_S)
            ours = responder_sample(api, engine, our_boxes[i])
            if i >= options.warmup:
                result.sdk.append(sdk)
                result.responder.append(ours)
        result.cpu = meter.stop()
    result.stop_notes.extend(running.notes)
    engine.boxes.remove([*sdk_boxes, *our_boxes])
    return result


# -- fleet -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetRun:
    """One fleet containment: wall time from the first request to the last pause."""

    who: str
    concurrency: int
    """limits.concurrency for the responder; threads for the SDK (1: one by one)."""
    mode: str
    """`one by one` or `at once`."""
    wall_s: float
    first_pause_s: float
    """From the first request to the first pause."""
    median_pause_s: float
    """From the first request to the median container's pause."""
    cpu: Cpu
    """CPU used from the first request until every pause was seen."""
    post_burst_s: float | None = None
    """Responder at once: from the first POST written to the last 202 read."""
    timeline: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Responder at once: first and last of each milestone, s from the first request."""

    @classmethod
    def of(cls, who: str, concurrency: int, mode: str, timed: Timed) -> FleetRun:
        """From one timed run over the fleet."""
        spread = timed.spread
        return cls(
            who, concurrency, mode, spread.last_s, spread.first_s, spread.median_s, timed.cpu
        )


def fleet_steps(options: Options) -> list[str]:
    """The fleet playbook's steps."""
    return ["docker:isolate", "docker:pause"] if options.isolate else ["docker:pause"]


def sdk_fleet(engine: Engine, options: Options) -> list[FleetRun]:
    """The engine alone: the fleet playbook's calls one by one, then with each number of threads."""
    boxes = engine.boxes.create(options.fleet, "sdk-fleet")
    # Read before any clock starts: the networks each container is on.
    networks = {i: nets for i, (_, nets) in engine_state(engine.client, boxes).items()}
    sdk = SdkPlaybook(engine.client, fleet_steps(options), networks)
    what = " + ".join(fleet_steps(options))
    print(f"fleet, raw SDK ({what}): {options.fleet} containers, one by one", flush=True)
    serial = one_by_one(sdk.contain, boxes, engine.log, CpuMeter())
    runs = [FleetRun.of("sdk", 1, "one by one", serial)]
    for threads in options.concurrency:
        sdk.undo_all(boxes, threads)
        time.sleep(SETTLE_S * 4)
        print(
            f"fleet, raw SDK ({what}): {options.fleet} containers at once, {threads} threads",
            flush=True,
        )
        timed = at_once(sdk.contain, boxes, threads, engine.log)
        runs.append(FleetRun.of("sdk", threads, "at once", timed))
    engine.boxes.remove(boxes)
    return runs


def burst(api: Api, engine: Engine, boxes: Sequence[Box], meter: CpuMeter) -> tuple[Timed, int]:
    """Every POST on its own connection, written in one burst; (the run, the last 202 read)."""
    bodies = falco_bodies(boxes, engine.boxes.run_id)
    conns = [api.connection() for _ in boxes]
    try:
        for conn in conns:
            conn.connect()  # connected before the clock starts
        meter.start()
        start = time.time_ns()
        for conn, box in zip(conns, boxes, strict=True):
            conn.request("POST", INTAKE_PATH, body=bodies[box.id], headers=JSON_HEADERS)
        statuses = []
        for conn in conns:
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
        answered = time.time_ns()
    except (OSError, http.client.HTTPException) as exc:
        raise BenchError(f"POST {INTAKE_PATH} failed: {exc}") from exc
    finally:
        for conn in conns:
            conn.close()
    if odd := [s for s in statuses if s != 202]:
        raise BenchError(f"{len(odd)} POSTs not answered 202: {sorted(set(odd))}")
    pauses = engine.log.wait_paused([box.id for box in boxes], start, FLEET_TIMEOUT_S)
    return Timed(start, pauses, meter.stop()), answered


@dataclass
class FleetServer:
    """What one server (one concurrency) did with the fleet."""

    concurrency: int
    runs: list[FleetRun] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)
    stop_notes: list[str] = field(default_factory=list)


def bench_fleet(
    engine: Engine, options: Options, concurrency: int, profile: Profile | None = None
) -> FleetServer:
    """One server: warm it up, the fleet one by one, then another fleet at once."""
    size = options.fleet
    label = f"fleet, responder, limits.concurrency {concurrency}"
    warm = engine.boxes.create(2, f"warm{concurrency}")
    serial = [] if profile else engine.boxes.create(size, f"one{concurrency}")
    together = engine.boxes.create(size, f"all{concurrency}")
    result = FleetServer(concurrency)
    with contain_server(concurrency, options, fleet_steps(options)) as running:
        api = Api(running.port)
        meter = CpuMeter(running.pid)
        run_id = engine.boxes.run_id
        one_by_one(post_each(api, warm, run_id), warm, engine.log, meter)
        finished(api, warm)
        if serial:
            print(f"{label}: {size} containers one by one", flush=True)
            post = post_each(api, serial, run_id)
            timed = one_by_one(post, serial, engine.log, meter)
            result.runs.append(FleetRun.of("responder", concurrency, "one by one", timed))
            finished(api, serial)
            time.sleep(SETTLE_S * 4)
        print(f"{label}: {size} containers at once", flush=True)
        with py_spy(running.pid, profile):
            timed, answered = burst(api, engine, together, meter)
            incidents = finished(api, together)
        run = FleetRun.of("responder", concurrency, "at once", timed)
        timeline = burst_timeline(api, timed, answered, incidents.values())
        result.runs.append(
            dataclasses.replace(
                run, post_burst_s=(answered - timed.start_ns) / 1e9, timeline=timeline
            )
        )
        for incident in [*finished(api, serial).values(), *incidents.values()]:
            result.states[incident["state"]] = result.states.get(incident["state"], 0) + 1
    result.stop_notes.extend(running.notes)
    engine.boxes.remove([*warm, *serial, *together])
    return result


def burst_timeline(
    api: Api, timed: Timed, answered_ns: int, incidents: Collection[Incident]
) -> dict[str, tuple[float, float]]:
    """When the incidents of a burst were opened, started their pause step, were paused, ended."""
    opened, stepped, ended = [], [], []
    for incident in incidents:
        full = api.incident(incident["id"])
        opened.append(stamp_ns(full["opened_at"]))
        ended.append(stamp_ns(full["finished_at"]))
        stepped += [
            stamp_ns(s["started_at"]) for s in full["steps"] if s["action"] == "docker:pause"
        ]

    def span(stamps: Collection[int | None]) -> tuple[float, float]:
        known = [(t - timed.start_ns) / 1e9 for t in stamps if t is not None]
        return (min(known), max(known)) if known else (float("nan"), float("nan"))

    return {
        "last 202 read": span([answered_ns]),
        "incidents opened": span(opened),
        "pause steps started": span(stepped),
        "containers paused": span([p.engine_ns for p in timed.pauses.values()]),
        "incidents finished": span(ended),
    }


# -- running it all --------------------------------------------------------------------------


@dataclass
class Results:
    """Everything measured."""

    latency: Latency | None = None
    sdk_fleet: list[FleetRun] = field(default_factory=list)
    fleets: list[FleetServer] = field(default_factory=list)


def run_all(engine: Engine, options: Options) -> Results:
    """Every measurement: time to contain, the engine's fleet, then one server per concurrency."""
    results = Results(bench_latency(engine, options), sdk_fleet(engine, options))
    for concurrency in options.concurrency:
        results.fleets.append(bench_fleet(engine, options, concurrency))
    if options.profile is not None:
        concurrency = options.concurrency[0]
        print(f"profiling one more fleet-at-once run (concurrency {concurrency})", flush=True)
        profiled = bench_fleet(engine, options, concurrency, options.profile)
        wall = profiled.runs[-1].wall_s
        print(
            f"  profile: {options.profile.out} ({options.profile.format}); under py-spy "
            f"the fleet took {wall:.3f} s at once (not comparable)",
            flush=True,
        )
    return results


# -- report ----------------------------------------------------------------------------------

OVERHEAD_TARGET_MS = 5.0
"""Issue 17: POST -> paused at the median, less the raw SDK's pause() at the median."""
FLEET_SDK_FACTOR = 1.3
"""Issue 17: the fleet at once within this many times the raw SDK at once with as many threads."""


def phases(samples: Sequence[Sample]) -> list[tuple[str, list[float]]]:
    """Where the responder's time goes, from the incident's own timestamps (ms per sample)."""
    rows: list[tuple[str, list[float]]] = []
    complete = [s for s in samples if s.opened_ns and s.step_ns]
    if not complete:
        return rows

    def series(fn: Callable[[Sample], float]) -> list[float]:
        return [fn(s) / 1e6 for s in complete]

    rows.append(("POST sent -> 202 read (intake, journal commit)", series(_intake)))
    rows.append(("202 read -> incident opened (worker wakes, reads, looks up)", series(_dispatch)))
    rows.append(("opened -> pause step starts (store, look-up, limit claim)", series(_runner)))
    rows.append(("step starts -> engine's pause event (inspect, pause)", series(_step)))
    rows.append(("engine's pause event -> incident finished (not counted)", series(_after)))
    return rows


def _intake(s: Sample) -> float:
    return s.answered_ns - s.sent_ns


def _dispatch(s: Sample) -> float:
    return (s.opened_ns or 0) - s.answered_ns


def _runner(s: Sample) -> float:
    return (s.step_ns or 0) - (s.opened_ns or 0)


def _step(s: Sample) -> float:
    return s.paused_ns - (s.step_ns or 0)


def _after(s: Sample) -> float:
    return (s.finished_ns or s.paused_ns) - s.paused_ns


def report_latency(latency: Latency) -> list[str]:
    """The time-to-contain table and its breakdown; returns the verdict lines."""
    print()
    print(
        f"time to contain: from the request sent to the engine's pause event, ms "
        f"({len(latency.sdk)} samples of each, limits.concurrency {latency.concurrency})"
    )
    headers = ["", "median", "p90", "max", "min"]
    rows = []
    for name, samples in (
        ("raw SDK container.pause()", latency.sdk),
        ("responder: POST -> paused", latency.responder),
    ):
        stats = summary([s.ms for s in samples])
        rows.append([name, *(f"{stats[k]:.2f}" for k in ("median", "p90", "max", "min"))])
    table(headers, rows)
    ours = statistics.median(s.ms for s in latency.responder)
    ref = statistics.median(s.ms for s in latency.sdk)
    overhead = ours - ref
    paired = statistics.median(
        r.ms - s.ms for r, s in zip(latency.responder, latency.sdk, strict=True)
    )
    print(
        f"  overhead: {overhead:.2f} ms (difference of the medians); median of the paired "
        f"differences {paired:.2f} ms"
    )
    delivery = statistics.median((s.seen_ns - s.paused_ns) / 1e6 for s in latency.sdk)
    print(f"  (the event stream delivered each pause event {delivery:.2f} ms after its timeNano)")
    if latency.cpu is not None and latency.cpu.server_s is not None:
        per = latency.cpu.server_s / len(latency.responder) * 1000
        print(
            f"  machine CPUs busy {latency.cpu.busy:.0%} over the samples; the responder process "
            f"used {per:.1f} ms of CPU per incident (answering this script's polling included)"
        )
    if rows := [
        [name, *(f"{summary(v)[k]:.2f}" for k in ("median", "p90", "max"))]
        for name, v in phases(latency.responder)
    ]:
        print()
        print("  where the responder's time goes (incident timestamps, ms):")
        table(["phase", "median", "p90", "max"], rows)
    met = verdict(overhead < OVERHEAD_TARGET_MS)
    return [
        (
            f"overhead over the raw SDK pause < {OVERHEAD_TARGET_MS:g} ms at the median: "
            f"{overhead:.2f} ms -> {met}"
        )
    ]


def report_fleet(results: Results, options: Options) -> list[str]:
    """The fleet table; returns the verdict lines."""
    print()
    steps = " + ".join(fleet_steps(options))
    print(
        f"fleet: {options.fleet} containers, wall time from the first request sent to the last "
        f"pause event, s (responder playbook: {steps})"
    )
    headers = ["who", "concurrency", "one by one", "at once", "ratio", "first", "median", "202s"]
    rows = []
    sdk_serial = next((r for r in results.sdk_fleet if r.mode == "one by one"), None)
    for run in results.sdk_fleet:
        if run.mode != "at once" or sdk_serial is None:
            continue
        rows.append(
            [
                "raw SDK",
                f"{run.concurrency} threads",
                f"{sdk_serial.wall_s:.3f}",
                f"{run.wall_s:.3f}",
                f"{run.wall_s / sdk_serial.wall_s:.2f}",
                f"{run.first_pause_s:.3f}",
                f"{run.median_pause_s:.3f}",
                "",
            ]
        )
    verdicts = []
    for fleet in results.fleets:
        serial = next((r for r in fleet.runs if r.mode == "one by one"), None)
        burst = next((r for r in fleet.runs if r.mode == "at once"), None)
        if serial is None or burst is None:
            continue
        ratio = burst.wall_s / serial.wall_s
        rows.append(
            [
                "responder",
                str(fleet.concurrency),
                f"{serial.wall_s:.3f}",
                f"{burst.wall_s:.3f}",
                f"{ratio:.2f}",
                f"{burst.first_pause_s:.3f}",
                f"{burst.median_pause_s:.3f}",
                f"{burst.post_burst_s:.3f}" if burst.post_burst_s is not None else "",
            ]
        )
        engine = next(
            (
                r
                for r in results.sdk_fleet
                if r.mode == "at once" and r.concurrency == fleet.concurrency
            ),
            None,
        )
        if engine is not None:
            factor = burst.wall_s / engine.wall_s
            verdicts.append(
                f"{options.fleet} at once <= {FLEET_SDK_FACTOR:g} x the raw SDK at once with "
                f"{fleet.concurrency} threads: {burst.wall_s:.3f} / {engine.wall_s:.3f} s = "
                f"{factor:.2f} -> {verdict(factor <= FLEET_SDK_FACTOR)}"
            )
    if rows:
        table(headers, rows, left=2)
        print(
            "  first, median: at once, from the first request to the first and the median pause;"
            " 202s: from the first POST written to the last 202 read"
        )
    report_cpu(results, options.fleet)
    report_timelines(results)
    for fleet in results.fleets:
        states = ", ".join(f"{n} {state}" for state, n in sorted(fleet.states.items()))
        print(f"  incidents at concurrency {fleet.concurrency}: {states}")
    return verdicts


def report_timelines(results: Results) -> None:
    """For each responder burst: when its incidents reached each milestone."""
    bursts = [r for fleet in results.fleets for r in fleet.runs if r.timeline]
    if not bursts:
        return
    print()
    print("  responder at once, s from the first POST: first .. last incident at each milestone")
    names = list(bursts[0].timeline)
    rows = [
        [name, *(f"{r.timeline[name][0]:.3f} .. {r.timeline[name][1]:.3f}" for r in bursts)]
        for name in names
    ]
    table(["milestone", *(f"concurrency {r.concurrency}" for r in bursts)], rows)


def report_cpu(results: Results, size: int) -> None:
    """CPU used over each fleet run, to tell whether the machine is the limit."""
    runs = [*results.sdk_fleet, *(run for fleet in results.fleets for run in fleet.runs)]
    if not runs:
        return
    print()
    print(
        f"  CPU over each fleet run (first request to last pause seen; {os.cpu_count()} CPUs): "
        "machine busy, and the responder process"
    )
    rows = []
    for run in runs:
        who = "raw SDK" if run.who == "sdk" else "responder"
        unit = "threads" if run.who == "sdk" and run.mode == "at once" else ""
        server = run.cpu.server_s
        rows.append(
            [
                who,
                f"{run.concurrency} {unit}".strip() if run.mode == "at once" else "-",
                run.mode,
                f"{run.cpu.elapsed_s:.3f}",
                f"{run.cpu.busy:.0%}",
                f"{run.cpu.machine_s:.2f}",
                f"{server:.2f}" if server is not None else "",
                f"{server / size * 1000:.1f}" if server is not None else "",
            ]
        )
    headers = ["who", "concurrency", "mode", "s", "busy", "CPU-s", "server CPU-s", "ms/container"]
    table(headers, rows, left=3)


def report(results: Results, options: Options) -> bool:
    """Print the tables and the targets; True when every incident ended contained."""
    verdicts = []
    held = True
    if results.latency and results.latency.sdk:
        verdicts += report_latency(results.latency)
    if results.sdk_fleet or results.fleets:
        verdicts += report_fleet(results, options)
    notes = [*(results.latency.stop_notes if results.latency else [])]
    for fleet in results.fleets:
        notes += fleet.stop_notes
        if set(fleet.states) != {"contained"}:
            held = False
    if notes:
        print(f"warning: a server did not stop cleanly: {'; '.join(notes)}")
    print()
    for line in verdicts:
        print(f"target: {line}")
    return held


def figures(results: Results) -> dict[str, Any]:
    """Every figure, for `--json`."""
    return {
        "latency": asdict(results.latency) if results.latency else None,
        "sdk_fleet": [asdict(r) for r in results.sdk_fleet],
        "fleets": [asdict(f) for f in results.fleets],
    }


def main(argv: Sequence[str] | None = None, stderr: IO[str] = sys.stderr) -> int:
    """Run every measurement, print the figures; the exit status says whether all held."""
    options = parse_args(argv)
    bench = EngineBench(
        title="responder containment benchmark: Falco POST -> container paused, against the raw SDK",
        settings=f"{options.samples} samples (+{options.warmup} warm-up), fleet of "
        f"{options.fleet}, concurrency {','.join(map(str, options.concurrency))}, "
        f"limits.max_containments {options.max_containments} per 1h",
        options=options,
        measure=lambda engine: run_all(engine, options),
        report=lambda results: report(results, options),
        figures=figures,
    )
    return run_on_engine(bench, stderr)


if __name__ == "__main__":
    sys.exit(main())
