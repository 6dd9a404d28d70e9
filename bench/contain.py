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
import dataclasses
import http.client
import json
import os
import platform
import secrets
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import aiohttp
import docker
import docker.errors
from _common import (
    HOST,
    INTAKE_PATH,
    LABEL,
    PY_SPY_HINT,
    BenchError,
    Box,
    Boxes,
    Cpu,
    CpuMeter,
    Profile,
    add_json_argument,
    add_profile_arguments,
    docker_client,
    engine_facts,
    ensure_image,
    find_py_spy,
    free_port,
    git_commit,
    http_status,
    load_average,
    machine,
    percentile,
    profile_from,
    py_spy,
    raise_interrupt,
    remove_boxes,
    responder_env,
    responder_source,
    server,
    table,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

RULE = "Responder benchmark containment"
PLAYBOOK = "bench-contain"

HTTP_TIMEOUT_S = 10.0
PAUSE_TIMEOUT_S = 30.0
FLEET_TIMEOUT_S = 120.0
FINISH_TIMEOUT_S = 60.0
POLL_S = 0.02
SETTLE_S = 0.05
INCIDENT_PAGE = 500

OVERHEAD_TARGET_MS = 15.0
FLEET_RATIO_TARGET = 0.35

EXIT_FAILED = 1
EXIT_MISSING = 2
EXIT_INTERRUPTED = 130

FINAL_STATES = frozenset(
    {
        "contained",
        "partially contained",
        "failed",
        "notified",
        "dry-run",
        "protected",
        "held",
        "resolved",
    }
)


@dataclass(frozen=True)
class Options:
    """The command line."""

    samples: int
    warmup: int
    latency_concurrency: int
    fleet: int
    concurrency: tuple[int, ...]
    isolate: bool
    max_containments: int
    profile: Profile | None
    json_out: Path | None


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
    add_profile_arguments(
        parser, "after the measured runs, one more fleet-at-once run under py-spy record"
    )
    add_json_argument(parser)
    args = parser.parse_args(argv)
    try:
        concurrency = tuple(int(c) for c in str(args.concurrency).split(",") if c.strip())
    except ValueError:
        parser.error(f"--concurrency: not a list of integers: {args.concurrency!r}")
    if not concurrency or min(concurrency) < 1 or max(concurrency) > 256:
        parser.error("--concurrency: give one or more counts from 1 to 256")
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
        profile=profile_from(args),
        json_out=args.json_out,
    )


# -- the engine's pause events ---------------------------------------------------------------


@dataclass(frozen=True)
class Pause:
    """When the engine reported a container paused (its clock), and when we read it."""

    engine_ns: int
    seen_ns: int


class PauseWatcher:
    """Reads the engine's event stream for pauses of this run's containers, in a thread."""

    def __init__(self, client: docker.DockerClient, boxes: Boxes) -> None:
        filters = {"type": "container", "event": "pause", **boxes.filters()}
        self._stream = client.events(decode=True, filters=filters)
        self._paused: dict[str, Pause] = {}
        self._cond = threading.Condition()
        self._ended: str | None = None
        self._thread = threading.Thread(target=self._read, name="pause-events", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        why = "the stream ended"
        try:
            for event in self._stream:
                seen = time.time_ns()
                if event.get("Action", event.get("status")) != "pause":
                    continue
                container_id = str(event.get("id") or event["Actor"]["ID"])
                engine_ns = int(event.get("timeNano") or int(event["time"]) * 1_000_000_000)
                with self._cond:
                    self._paused.setdefault(container_id, Pause(engine_ns, seen))
                    self._cond.notify_all()
        except Exception as exc:  # noqa: BLE001 - any end of the stream is reported to the waiter
            why = f"the stream failed: {exc}"
        with self._cond:
            self._ended = why
            self._cond.notify_all()

    def wait(self, ids: Collection[str], timeout: float) -> dict[str, Pause]:
        """The pause of each container; BenchError when one is not seen within `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                missing = [i for i in ids if i not in self._paused]
                if not missing:
                    return {i: self._paused[i] for i in ids}
                if self._ended is not None:
                    raise BenchError(f"Docker event stream: {self._ended}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(
                        f"{len(missing)} of {len(ids)} containers not seen paused within "
                        f"{timeout:g} s (first: {missing[0][:12]})"
                    )
                self._cond.wait(left)

    def pop(self, ids: Collection[str]) -> dict[str, Pause]:
        """Forget these containers' pauses (to pause them again), returning those seen."""
        with self._cond:
            return {i: self._paused.pop(i) for i in ids if i in self._paused}

    def close(self) -> None:
        """Stop reading."""
        self._stream.close()
        self._thread.join(timeout=5)


# -- the responder server --------------------------------------------------------------------


def write_setup(
    workdir: Path, concurrency: int, max_containments: int, steps: Sequence[str]
) -> Path:
    """The config file and the playbook in `workdir`; returns the config file."""
    config = workdir / "responder.yaml"
    config.write_text(
        "limits:\n"
        f"  max_containments: {max_containments}\n"
        "  window: 1h\n"
        f"  concurrency: {concurrency}\n",
        encoding="utf-8",
    )
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
    (workdir / "data").mkdir()
    return config


def serve_command(port: int, workdir: Path, config: Path) -> list[str]:
    """`responder serve` on loopback with the benchmark's config, data and playbooks."""
    return [
        sys.executable,
        "-m",
        "responder",
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
        "--data-dir",
        str(workdir / "data"),
        "--playbooks",
        str(workdir / "playbooks"),
    ]


def _readyz(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        return http_status(port, "GET", "/readyz") == 200

    return ready


@dataclass(frozen=True)
class Api:
    """Requests to one server on 127.0.0.1."""

    port: int

    def connection(self) -> http.client.HTTPConnection:
        """A new connection, not yet connected."""
        return http.client.HTTPConnection(HOST, self.port, timeout=HTTP_TIMEOUT_S)

    def post_event(self, body: bytes) -> int:
        """POST one Falco event; the status (202 expected)."""
        conn = self.connection()
        try:
            conn.request("POST", INTAKE_PATH, body=body, headers=_JSON)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise BenchError(f"POST {INTAKE_PATH} failed: {exc}") from exc
        finally:
            conn.close()
        return response.status

    def get_json(self, path: str) -> Any:  # noqa: ANN401 - JSON
        """GET a JSON document; BenchError on anything but 200."""
        conn = self.connection()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise BenchError(f"GET {path} failed: {exc}") from exc
        finally:
            conn.close()
        if response.status != 200:
            raise BenchError(f"GET {path} answered {response.status}: {body[:300]!r}")
        return json.loads(body)

    def finished(self, boxes: Collection[Box], timeout: float) -> dict[str, dict[str, Any]]:
        """Wait until each container's incident is in a final state; container id -> incident."""
        short = {box.short_id: box.id for box in boxes}  # incidents hold the 12-digit id
        wanted = set(short.values())
        deadline = time.monotonic() + timeout
        while True:
            listed = self.get_json(f"/v1/incidents?limit={INCIDENT_PAGE}")["incidents"]
            by_container = {
                short[key]: i for i in listed if (key := str(i["container_id"])[:12]) in short
            }
            if len(by_container) == len(wanted) and all(
                i["state"] in FINAL_STATES for i in by_container.values()
            ):
                return by_container
            if time.monotonic() > deadline:
                running = len(wanted) - sum(
                    i["state"] in FINAL_STATES for i in by_container.values()
                )
                raise BenchError(
                    f"{running} of {len(wanted)} incidents not finished within {timeout:g} s"
                )
            time.sleep(POLL_S)


_JSON = {"Content-Type": "application/json"}


def falco_body(box: Box, seq: int) -> bytes:
    """A Falco `http_output` event naming the container, unique per sample."""
    now = datetime.now(UTC)
    return json.dumps(
        {
            "uuid": secrets.token_hex(16),
            "time": now.isoformat().replace("+00:00", "Z"),
            "rule": RULE,
            "priority": "Notice",
            "source": "syscall",
            "hostname": platform.node(),
            "output": f"{now.isoformat()}: Notice benchmark event {seq} in {box.name} "
            f"(container_id={box.short_id} container_name={box.name})",
            "output_fields": {
                "container.id": box.short_id,
                "container.name": box.name,
                "evt.time": now.timestamp(),
                "proc.name": "sh",
            },
            "tags": ["benchmark"],
        }
    ).encode()


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


def _ns(stamp: str | None) -> int | None:
    if not stamp:
        return None
    return int(datetime.fromisoformat(stamp).timestamp() * 1e9)


def sdk_sample(client: docker.DockerClient, watcher: PauseWatcher, box: Box) -> Sample:
    """The reference: `container.pause()` through the SDK, timed to the engine's event."""
    container = client.containers.get(box.id)  # looked up before the clock starts
    sent = time.time_ns()
    container.pause()
    answered = time.time_ns()
    pause = watcher.wait([box.id], PAUSE_TIMEOUT_S)[box.id]
    return Sample("sdk", box.id, sent, answered, pause.engine_ns, pause.seen_ns)


def responder_sample(api: Api, watcher: PauseWatcher, box: Box, seq: int) -> Sample:
    """POST an event naming the container; timed to the engine's event; then its incident."""
    body = falco_body(box, seq)
    sent = time.time_ns()
    status = api.post_event(body)
    answered = time.time_ns()
    if status != 202:
        raise BenchError(f"POST {INTAKE_PATH} answered {status}, not 202")
    pause = watcher.wait([box.id], PAUSE_TIMEOUT_S)[box.id]
    incident = api.finished([box], FINISH_TIMEOUT_S)[box.id]
    if incident["state"] != "contained":
        raise BenchError(f"incident {incident['id']} ended {incident['state']!r}, not contained")
    full = api.get_json(f"/v1/incidents/{incident['id']}")
    pause_steps = [s for s in full["steps"] if s["action"] == "docker:pause"]
    return Sample(
        "responder",
        box.id,
        sent,
        answered,
        pause.engine_ns,
        pause.seen_ns,
        opened_ns=_ns(full["opened_at"]),
        step_ns=_ns(pause_steps[0]["started_at"]) if pause_steps else None,
        finished_ns=_ns(full["finished_at"]),
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


def bench_latency(ctx: Context) -> Latency:
    """Alternate an SDK sample and a responder sample, each on a fresh container."""
    options = ctx.options
    total = options.warmup + options.samples
    print(
        f"time to contain: {total} containers for each ({options.warmup} warm-up), "
        f"limits.concurrency {options.latency_concurrency}",
        flush=True,
    )
    sdk_boxes = ctx.boxes.create(total, "sdk")
    our_boxes = ctx.boxes.create(total, "ttc")
    result = Latency(options.latency_concurrency)
    with tempfile.TemporaryDirectory(prefix="responder-contain-") as tmp:
        workdir = Path(tmp)
        config = write_setup(
            workdir, options.latency_concurrency, options.max_containments, ["docker:pause"]
        )
        port = free_port()
        log = workdir / "server.log"
        command = serve_command(port, workdir, config)
        with server("responder", command, log, _readyz(port), responder_env()) as managed:
            api = Api(port)
            meter = CpuMeter(managed.proc.pid)
            for i in range(total):
                if i == options.warmup:
                    meter.start()
                time.sleep(SETTLE_S)
                sdk = sdk_sample(ctx.client, ctx.watcher, sdk_boxes[i])
                time.sleep(SETTLE_S)
                ours = responder_sample(api, ctx.watcher, our_boxes[i], i)
                if i >= options.warmup:
                    result.sdk.append(sdk)
                    result.responder.append(ours)
            result.cpu = meter.stop()
        result.stop_notes.extend(managed.notes)
    ctx.boxes.remove([*sdk_boxes, *our_boxes])
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


def _fleet_run(
    who: str, concurrency: int, mode: str, start_ns: int, pauses: Collection[Pause], *, cpu: Cpu
) -> FleetRun:
    offsets = sorted((p.engine_ns - start_ns) / 1e9 for p in pauses)
    return FleetRun(
        who, concurrency, mode, offsets[-1], offsets[0], statistics.median(offsets), cpu
    )


class SdkContain:
    """What the fleet playbook does, as raw SDK calls: [disconnect every network,] pause."""

    def __init__(self, client: docker.DockerClient, boxes: Sequence[Box], *, isolate: bool) -> None:
        self._api = client.api
        self._isolate = isolate
        # Read before any clock starts: the networks each container is on.
        self._networks = {
            box.id: list(self._api.inspect_container(box.id)["NetworkSettings"]["Networks"])
            for box in boxes
        }

    def contain(self, box: Box) -> None:
        """Isolate (when the playbook does) and pause one container."""
        if self._isolate:
            for network in self._networks[box.id]:
                self._api.disconnect_container_from_network(box.id, network)
        self._api.pause(box.id)

    def undo(self, box: Box) -> None:
        """Unpause it and put it back on its networks, for the next round (not timed)."""
        self._api.unpause(box.id)
        if self._isolate:
            for network in self._networks[box.id]:
                self._api.connect_container_to_network(box.id, network)


def sdk_fleet(ctx: Context) -> list[FleetRun]:
    """The engine alone: the fleet playbook's calls one by one, then with each number of threads."""
    options = ctx.options
    boxes = ctx.boxes.create(options.fleet, "sdk-fleet")
    sdk = SdkContain(ctx.client, boxes, isolate=options.isolate)
    ids = [box.id for box in boxes]
    runs = []
    what = " + ".join(fleet_steps(options))
    print(f"fleet, raw SDK ({what}): {options.fleet} containers, one by one", flush=True)
    meter = CpuMeter()
    meter.start()
    start = time.time_ns()
    for box in boxes:
        sdk.contain(box)
        ctx.watcher.wait([box.id], PAUSE_TIMEOUT_S)
    cpu = meter.stop()
    runs.append(_fleet_run("sdk", 1, "one by one", start, ctx.watcher.pop(ids).values(), cpu=cpu))
    for threads in options.concurrency:
        for box in boxes:
            sdk.undo(box)
        time.sleep(SETTLE_S * 4)
        print(
            f"fleet, raw SDK ({what}): {options.fleet} containers at once, {threads} threads",
            flush=True,
        )
        with ThreadPoolExecutor(threads, thread_name_prefix="sdk-fleet") as pool:
            barrier = threading.Barrier(threads + 1)
            for _ in range(threads):
                pool.submit(barrier.wait, FLEET_TIMEOUT_S)
            barrier.wait(FLEET_TIMEOUT_S)  # every thread exists before the clock starts
            meter.start()
            start = time.time_ns()
            list(pool.map(sdk.contain, boxes))
        pauses = ctx.watcher.wait(ids, FLEET_TIMEOUT_S)
        cpu = meter.stop()
        ctx.watcher.pop(ids)
        runs.append(_fleet_run("sdk", threads, "at once", start, pauses.values(), cpu=cpu))
    ctx.boxes.remove(boxes)
    return runs


def one_by_one(
    api: Api, watcher: PauseWatcher, boxes: Sequence[Box], meter: CpuMeter
) -> tuple[int, dict[str, Pause], Cpu]:
    """POST for each container and wait for its pause before the next; (start, pauses, CPU)."""
    meter.start()
    start = time.time_ns()
    for seq, box in enumerate(boxes):
        status = api.post_event(falco_body(box, seq))
        if status != 202:
            raise BenchError(f"POST {INTAKE_PATH} answered {status}, not 202")
        watcher.wait([box.id], PAUSE_TIMEOUT_S)
    pauses = watcher.wait([box.id for box in boxes], PAUSE_TIMEOUT_S)
    return start, pauses, meter.stop()


def at_once(
    api: Api, watcher: PauseWatcher, boxes: Sequence[Box], meter: CpuMeter
) -> tuple[int, int, dict[str, Pause], Cpu]:
    """Every POST on its own connection, written in one burst; (start, last answer, pauses, CPU)."""
    bodies = [falco_body(box, seq) for seq, box in enumerate(boxes)]
    conns = [api.connection() for _ in boxes]
    try:
        for conn in conns:
            conn.connect()  # connected before the clock starts
        meter.start()
        start = time.time_ns()
        for conn, body in zip(conns, bodies, strict=True):
            conn.request("POST", INTAKE_PATH, body=body, headers=_JSON)
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
    pauses = watcher.wait([box.id for box in boxes], FLEET_TIMEOUT_S)
    return start, answered, pauses, meter.stop()


@dataclass
class FleetServer:
    """What one server (one concurrency) did with the fleet."""

    concurrency: int
    runs: list[FleetRun] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)
    stop_notes: list[str] = field(default_factory=list)


def fleet_steps(options: Options) -> list[str]:
    """The fleet playbook's steps."""
    return ["docker:isolate", "docker:pause"] if options.isolate else ["docker:pause"]


def bench_fleet(ctx: Context, concurrency: int, profile: Profile | None = None) -> FleetServer:
    """One server: warm it up, the fleet one by one, then another fleet at once."""
    options = ctx.options
    size = options.fleet
    label = f"fleet, responder, limits.concurrency {concurrency}"
    warm = ctx.boxes.create(2, f"warm{concurrency}")
    serial = [] if profile else ctx.boxes.create(size, f"one{concurrency}")
    burst = ctx.boxes.create(size, f"all{concurrency}")
    result = FleetServer(concurrency)
    with tempfile.TemporaryDirectory(prefix="responder-fleet-") as tmp:
        workdir = Path(tmp)
        config = write_setup(workdir, concurrency, options.max_containments, fleet_steps(options))
        port = free_port()
        log = workdir / "server.log"
        command = serve_command(port, workdir, config)
        with server("responder", command, log, _readyz(port), responder_env()) as managed:
            api = Api(port)
            meter = CpuMeter(managed.proc.pid)
            one_by_one(api, ctx.watcher, warm, meter)
            api.finished(warm, FINISH_TIMEOUT_S)
            if serial:
                print(f"{label}: {size} containers one by one", flush=True)
                start, pauses, cpu = one_by_one(api, ctx.watcher, serial, meter)
                result.runs.append(
                    _fleet_run(
                        "responder", concurrency, "one by one", start, pauses.values(), cpu=cpu
                    )
                )
                api.finished(serial, FINISH_TIMEOUT_S)
                time.sleep(SETTLE_S * 4)
            print(f"{label}: {size} containers at once", flush=True)
            with py_spy(managed.proc.pid, profile):
                start, answered, pauses, cpu = at_once(api, ctx.watcher, burst, meter)
                run = _fleet_run(
                    "responder", concurrency, "at once", start, pauses.values(), cpu=cpu
                )
                incidents = api.finished(burst, FINISH_TIMEOUT_S)
            timeline = burst_timeline(api, start, answered, incidents.values(), pauses.values())
            result.runs.append(
                dataclasses.replace(run, post_burst_s=(answered - start) / 1e9, timeline=timeline)
            )
            for incident in [*api.finished(serial, FINISH_TIMEOUT_S).values(), *incidents.values()]:
                result.states[incident["state"]] = result.states.get(incident["state"], 0) + 1
        result.stop_notes.extend(managed.notes)
    ctx.boxes.remove([*warm, *serial, *burst])
    return result


def burst_timeline(
    api: Api,
    start_ns: int,
    answered_ns: int,
    incidents: Collection[dict[str, Any]],
    pauses: Collection[Pause],
) -> dict[str, tuple[float, float]]:
    """When the incidents of a burst were opened, started their pause step, were paused, ended."""
    opened, stepped, finished = [], [], []
    for incident in incidents:
        full = api.get_json(f"/v1/incidents/{incident['id']}")
        opened.append(_ns(full["opened_at"]))
        finished.append(_ns(full["finished_at"]))
        stepped += [_ns(s["started_at"]) for s in full["steps"] if s["action"] == "docker:pause"]

    def span(stamps: Collection[int | None]) -> tuple[float, float]:
        known = [(t - start_ns) / 1e9 for t in stamps if t is not None]
        return (min(known), max(known)) if known else (float("nan"), float("nan"))

    return {
        "last 202 read": span([answered_ns]),
        "incidents opened": span(opened),
        "pause steps started": span(stepped),
        "containers paused": span([p.engine_ns for p in pauses]),
        "incidents finished": span(finished),
    }


# -- running it all --------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What every measurement needs."""

    options: Options
    client: docker.DockerClient
    boxes: Boxes
    watcher: PauseWatcher


@dataclass
class Results:
    """Everything measured."""

    latency: Latency | None = None
    sdk_fleet: list[FleetRun] = field(default_factory=list)
    fleets: list[FleetServer] = field(default_factory=list)


def run_all(ctx: Context, results: Results) -> None:
    """Every measurement, filling `results` as it goes (so an interrupted run keeps its figures)."""
    results.latency = bench_latency(ctx)
    results.sdk_fleet = sdk_fleet(ctx)
    for concurrency in ctx.options.concurrency:
        results.fleets.append(bench_fleet(ctx, concurrency))
    if ctx.options.profile is not None:
        concurrency = ctx.options.concurrency[0]
        print(f"profiling one more fleet-at-once run (concurrency {concurrency})", flush=True)
        profiled = bench_fleet(ctx, concurrency, ctx.options.profile)
        wall = profiled.runs[-1].wall_s
        print(
            f"  profile: {ctx.options.profile.out} ({ctx.options.profile.format}); under py-spy "
            f"the fleet took {wall:.3f} s at once (not comparable)",
            flush=True,
        )


# -- report ----------------------------------------------------------------------------------


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, p90, max and min."""
    return {
        "median": statistics.median(values),
        "p90": percentile(values, 90),
        "max": max(values),
        "min": min(values),
    }


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
    met = "met" if overhead < OVERHEAD_TARGET_MS else "NOT met"
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
        met = "met" if ratio < FLEET_RATIO_TARGET else "NOT met"
        engine = next(
            (
                r
                for r in results.sdk_fleet
                if r.mode == "at once" and r.concurrency == fleet.concurrency
            ),
            None,
        )
        own = (
            f" (the raw SDK with as many threads: {engine.wall_s / sdk_serial.wall_s:.2f})"
            if engine and sdk_serial
            else ""
        )
        verdicts.append(
            f"{options.fleet} at once < {FLEET_RATIO_TARGET} x one by one, concurrency "
            f"{fleet.concurrency}: {ratio:.2f} -> {met}{own}"
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


def environment(client: docker.DockerClient, image: str) -> dict[str, str]:
    """Machine and software facts for the report."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "machine": machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "libraries": f"docker SDK {docker.__version__}, aiohttp {aiohttp.__version__}",
        "engine": engine_facts(client),
        "image": image,
        "responder": responder_source(),
        "load avg": load_average(),
    }


def print_header(env: dict[str, str], options: Options, prefix: str) -> None:
    """What is measured, where, and how."""
    print("responder containment benchmark: Falco POST -> container paused, against the raw SDK")
    for key, value in env.items():
        print(f"  {key:9} {value}")
    print(
        f"  settings  {options.samples} samples (+{options.warmup} warm-up), fleet of "
        f"{options.fleet}, concurrency {','.join(map(str, options.concurrency))}, "
        f"limits.max_containments {options.max_containments} per 1h"
    )
    print(f"  containers {prefix}-* (label {LABEL}), removed at the end", flush=True)


def write_json(path: Path, env: dict[str, str], options: Options, results: Results) -> None:
    """Every figure as JSON, for comparing runs later."""
    document = {
        "environment": env,
        "settings": asdict(options),
        "latency": asdict(results.latency) if results.latency else None,
        "sdk_fleet": [asdict(r) for r in results.sdk_fleet],
        "fleets": [asdict(f) for f in results.fleets],
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")


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


def cleanup(boxes: Boxes, watcher: PauseWatcher | None, stderr: IO[str]) -> bool:
    """Remove every container of the run, uninterrupted; True when none is left."""
    if watcher is not None:
        watcher.close()
    return remove_boxes(boxes, stderr)


def preflight(options: Options, stderr: IO[str]) -> docker.DockerClient | None:
    """A client of the engine, or None (said on stderr) when a tool or the engine is missing."""
    if options.profile is not None and find_py_spy() is None:
        print(PY_SPY_HINT, file=stderr)
        return None
    return docker_client(stderr)


def main(argv: Sequence[str] | None = None, stderr: IO[str] = sys.stderr) -> int:
    """Run every measurement, print the figures; the exit status says whether all held."""
    options = parse_args(argv)
    client = preflight(options, stderr)
    if client is None:
        return EXIT_MISSING
    signal.signal(signal.SIGTERM, raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    boxes = Boxes(client, secrets.token_hex(4))
    results = Results()
    watcher = None
    status = 0
    try:
        image = ensure_image(client)
        env = environment(client, image)
        print_header(env, options, boxes.prefix)
        watcher = PauseWatcher(client, boxes)
        run_all(Context(options, client, boxes, watcher), results)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=stderr)
        status = EXIT_FAILED
    except docker.errors.DockerException as exc:
        print(f"benchmark failed: the Docker engine said: {exc}", file=stderr)
        status = EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted: cleaning up", file=stderr)
        status = EXIT_INTERRUPTED
    finally:
        if not cleanup(boxes, watcher, stderr):
            status = status or EXIT_FAILED
        client.close()
    if status == 0:
        if not report(results, options):
            status = EXIT_FAILED
        if options.json_out is not None:
            write_json(options.json_out, env, options, results)
            print(f"results written to {options.json_out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
