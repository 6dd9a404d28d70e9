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
import asyncio
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
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import aiohttp
import docker
import docker.errors
from _common import (
    BARE_SERVER,
    HOST,
    INTAKE_PATH,
    LABEL,
    PY_SPY_HINT,
    REPO,
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
    indent,
    journal_rows,
    load_average,
    log_tail,
    machine,
    percentile,
    post_ready,
    process_cpu_s,
    process_memory_kb,
    profile_from,
    py_spy,
    raise_interrupt,
    remove_boxes,
    responder_env,
    responder_source,
    server,
    status_ready,
    table,
)

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Mapping, Sequence

RULE = "Terminal shell in container"
PLAYBOOK = "contain-shell-in-production"
PLAYBOOKS = REPO / "playbooks"
PRODUCTION = {"environment": "production"}
EXPECTED_STEPS = ("docker:snapshot done", "docker:isolate done", "docker:pause done", "notify done")
AUDIT_FILE = "audit.jsonl"

HTTP_TIMEOUT_S = 30.0
CONTAIN_TIMEOUT_S = 180.0
POLL_S = 0.1
SETTLE_S = 1.0
INCIDENT_PAGE = 500
SDK_TIMEOUT_S = 120.0

MEMORY_TARGET_MB = 200.0

EXIT_FAILED = 1
EXIT_MISSING = 2
EXIT_INTERRUPTED = 130

_JSON = {"Content-Type": "application/json"}
FINAL_STATES = frozenset(
    {"contained", "partially contained", "failed", "notified", "dry-run", "protected", "held"}
)


@dataclass(frozen=True)
class Options:
    """The command line."""

    events: int
    containers: int
    seconds: float
    connections: int
    concurrency: int
    max_containments: int
    profile: Profile | None
    json_out: Path | None


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
    add_profile_arguments(parser, "record the server with py-spy during the storm")
    add_json_argument(parser)
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
        profile=profile_from(args),
        json_out=args.json_out,
    )


# -- the engine's events ---------------------------------------------------------------------


@dataclass(frozen=True)
class EngineEvent:
    """One pause, unpause, network connect or disconnect of a container, on the engine's clock."""

    action: str
    container: str
    engine_ns: int
    network: str | None = None


class EngineLog:
    """Every pause, unpause, connect and disconnect of this run's containers, read in a thread."""

    ACTIONS = ("pause", "unpause", "connect", "disconnect")

    def __init__(self, client: docker.DockerClient) -> None:
        # Network events carry the container in their attributes, not its labels: filter by
        # type and action here, by container id below.
        filters = {"type": ["container", "network"], "event": list(self.ACTIONS)}
        self._stream = client.events(decode=True, filters=filters)
        self._events: list[EngineEvent] = []
        self._watched: set[str] = set()
        self._cond = threading.Condition()
        self._ended: str | None = None
        self._thread = threading.Thread(target=self._read, name="engine-events", daemon=True)
        self._thread.start()

    def watch(self, boxes: Collection[Box]) -> None:
        """Keep the events of these containers."""
        with self._cond:
            self._watched.update(box.id for box in boxes)

    def _read(self) -> None:
        why = "the stream ended"
        try:
            for raw in self._stream:
                event = _engine_event(raw)
                if event is None:
                    continue
                with self._cond:
                    if event.container in self._watched:
                        self._events.append(event)
                        self._cond.notify_all()
        except Exception as exc:  # noqa: BLE001 - any end of the stream is reported to the waiter
            why = f"the stream failed: {exc}"
        with self._cond:
            self._ended = why
            self._cond.notify_all()

    def since(self, since_ns: int, ids: Collection[str] | None = None) -> list[EngineEvent]:
        """The events at or after `since_ns` (of these containers), oldest first."""
        with self._cond:
            return [
                e
                for e in self._events
                if e.engine_ns >= since_ns and (ids is None or e.container in ids)
            ]

    def wait_paused(self, ids: Collection[str], since_ns: int, timeout: float) -> dict[str, int]:
        """The first pause of each container since `since_ns`; BenchError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                first: dict[str, int] = {}
                for e in self._events:
                    if e.action == "pause" and e.engine_ns >= since_ns and e.container in ids:
                        first.setdefault(e.container, e.engine_ns)
                missing = [i for i in ids if i not in first]
                if not missing:
                    return first
                if self._ended is not None:
                    raise BenchError(f"Docker event stream: {self._ended}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(
                        f"{len(missing)} of {len(ids)} containers not seen paused within "
                        f"{timeout:g} s (first: {missing[0][:12]})"
                    )
                self._cond.wait(min(left, 1.0))

    def close(self) -> None:
        """Stop reading."""
        self._stream.close()
        self._thread.join(timeout=5)


def _engine_event(raw: Mapping[str, Any]) -> EngineEvent | None:
    action = str(raw.get("Action") or raw.get("status") or "")
    if action not in EngineLog.ACTIONS:
        return None
    actor = raw.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    engine_ns = int(raw.get("timeNano") or int(raw.get("time", 0)) * 1_000_000_000)
    if raw.get("Type") == "network":
        container = attributes.get("container")
        if not container:
            return None
        return EngineEvent(action, str(container), engine_ns, str(attributes.get("name") or "?"))
    return EngineEvent(action, str(raw.get("id") or actor.get("ID")), engine_ns)


# -- the raw SDK reference -------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """When each container of a fleet was paused: s from the first request or call."""

    first_s: float
    median_s: float
    last_s: float

    @classmethod
    def of(cls, start_ns: int, stamps: Collection[int]) -> Spread:
        """From engine timestamps (ns since the epoch)."""
        offsets = sorted((t - start_ns) / 1e9 for t in stamps)
        return cls(offsets[0], statistics.median(offsets), offsets[-1])


@dataclass(frozen=True)
class SdkRun:
    """The raw SDK on the reference containers, with `threads` threads."""

    what: str
    threads: int
    paused: Spread
    cpu: Cpu


class SdkPlaybook:
    """The Docker calls of the playbook's container steps, made directly with the SDK."""

    def __init__(self, client: docker.DockerClient) -> None:
        self._api = client.api

    def snapshot(self, box: Box) -> None:
        """docker:snapshot's read-only parts: top, inspect, logs, diff."""
        self._api.top(box.id)
        self._api.inspect_container(box.id)
        self._api.logs(box.id, stdout=True, stderr=True, timestamps=True, tail="all")
        self._api.diff(box.id)

    def isolate(self, box: Box) -> None:
        """docker:isolate: inspect, then disconnect from every network."""
        networks = self._api.inspect_container(box.id)["NetworkSettings"]["Networks"]
        for network in networks:
            self._api.disconnect_container_from_network(box.id, network)

    def pause(self, box: Box) -> None:
        """docker:pause."""
        self._api.pause(box.id)

    def playbook(self, box: Box) -> None:
        """Snapshot, isolate, pause: one container as the playbook contains it."""
        self.snapshot(box)
        self.isolate(box)
        self.pause(box)


def sdk_reference(
    client: docker.DockerClient, log: EngineLog, boxes: Sequence[Box], threads: int
) -> list[SdkRun]:
    """Pause alone, unpause, then the playbook's calls: each with `threads` threads at once."""
    sdk = SdkPlaybook(client)
    ids = [box.id for box in boxes]
    runs = []
    for what, call in (("pause", sdk.pause), ("snapshot + isolate + pause", sdk.playbook)):
        print(f"reference: raw SDK, {what}, {len(boxes)} containers, {threads} threads", flush=True)
        with ThreadPoolExecutor(threads, thread_name_prefix="sdk") as pool:
            barrier = threading.Barrier(threads + 1)
            for _ in range(threads):
                pool.submit(barrier.wait, SDK_TIMEOUT_S)
            barrier.wait(SDK_TIMEOUT_S)  # every thread exists before the clock starts
            meter = CpuMeter()
            meter.start()
            start = time.time_ns()
            list(pool.map(call, boxes))
        pauses = log.wait_paused(ids, start, SDK_TIMEOUT_S)
        runs.append(SdkRun(what, threads, Spread.of(start, pauses.values()), meter.stop()))
        if what == "pause":
            with ThreadPoolExecutor(threads, thread_name_prefix="sdk") as pool:
                list(pool.map(lambda box: client.api.unpause(box.id), boxes))
            time.sleep(0.2)
    return runs


# -- the load --------------------------------------------------------------------------------


def storm_bodies(boxes: Sequence[Box], options: Options, run_id: str) -> list[bytes]:
    """One unique Falco `Terminal shell in container` event per request, round robin."""
    start = time.time() + 1.0
    interval = options.seconds / options.events
    bodies = []
    for seq in range(options.events):
        box = boxes[seq % len(boxes)]
        at = start + seq * interval
        stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds")
        stamp = stamp.replace("+00:00", f"{seq % 1000:03d}Z")  # nanoseconds, as Falco writes
        pid = 4000 + seq
        tty = 34816 + seq % 64
        output = (
            f"{stamp}: Notice A shell was spawned in a container with an attached terminal "
            f"(evt_type=execve user=root user_uid=0 user_loginuid=-1 process=sh "
            f"proc_exepath=/bin/sh parent=runc command=sh -i terminal={tty} pid={pid} "
            f"exe_flags=EXE_WRITABLE container_id={box.short_id} container_name={box.name})"
        )
        body = {
            "hostname": platform.node(),
            "output": output,
            "priority": "Notice",
            "rule": RULE,
            "source": "syscall",
            "tags": ["maturity_stable", "container", "shell", "mitre_execution", "T1059"],
            "time": stamp,
            "output_fields": {
                "container.id": box.short_id,
                "container.name": box.name,
                "container.image.repository": "responder-test/busybox",
                "evt.arg.flags": "EXE_WRITABLE",
                "evt.time": int(at * 1e9),
                "evt.type": "execve",
                "proc.cmdline": "sh -i",
                "proc.exepath": "/bin/sh",
                "proc.name": "sh",
                "proc.pid": pid,
                "proc.pname": "runc",
                "proc.tty": tty,
                "user.loginuid": -1,
                "user.name": "root",
                "user.uid": 0,
                "bench.run": run_id,
            },
        }
        bodies.append(json.dumps(body).encode())
    return bodies


@dataclass(frozen=True)
class Load:
    """What the client saw: one entry per request, times on the host clock (ns since epoch)."""

    first_sent_ns: int
    last_sent_ns: int
    last_answered_ns: int
    statuses: dict[str, int]
    """Status code (or `error: ...`) -> count."""
    latencies_ms: list[float] = field(repr=False)
    sent_s: list[float] = field(repr=False)
    """When each request was sent, s after the first."""
    max_late_ms: float
    """How far behind its slot the most delayed request was sent (all connections busy)."""
    client_cpu_s: float
    """CPU time this process (the client) used to send them."""

    def by_second(self) -> list[tuple[int, float, float, float]]:
        """(second, p50, p99, max) of the requests sent in each second of the storm, ms."""
        seconds: dict[int, list[float]] = {}
        for at, ms in zip(self.sent_s, self.latencies_ms, strict=True):
            seconds.setdefault(int(at), []).append(ms)
        return [
            (second, percentile(v, 50), percentile(v, 99), max(v))
            for second, v in sorted(seconds.items())
        ]

    @property
    def acknowledged(self) -> int:
        """2xx answers."""
        return sum(n for s, n in self.statuses.items() if s.startswith("2"))

    @property
    def failed(self) -> int:
        """Anything but a 2xx."""
        return sum(n for s, n in self.statuses.items() if not s.startswith("2"))

    def latency(self) -> dict[str, float]:
        """p50, p99 and max, ms."""
        return {
            "p50": percentile(self.latencies_ms, 50),
            "p99": percentile(self.latencies_ms, 99),
            "max": max(self.latencies_ms),
        }

    def summary(self) -> dict[str, Any]:
        """For the JSON output, without the per-request latencies."""
        return (
            {k: v for k, v in asdict(self).items() if k not in {"latencies_ms", "sent_s"}}
            | self.latency()
            | {"by_second": self.by_second()}
            | {"acknowledged": self.acknowledged, "failed": self.failed}
        )


async def _send(
    port: int, bodies: Sequence[bytes], seconds: float, connections: int
) -> tuple[list[int], list[int], list[str], float]:
    """POST every body at its slot of a steady rate; (sent ns, answered ns, statuses, lateness)."""
    url = f"http://{HOST}:{port}{INTAKE_PATH}"
    count = len(bodies)
    interval = seconds / count
    sent = [0] * count
    answered = [0] * count
    statuses = [""] * count
    late = [0.0]
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def probe() -> None:
            async with session.get(f"http://{HOST}:{port}/healthz") as response:
                await response.read()

        # Open every connection before the clock starts.
        await asyncio.gather(*(probe() for _ in range(connections)), return_exceptions=True)
        slots: Iterator[int] = iter(range(count))
        start = time.monotonic() + 0.05

        async def worker() -> None:
            for i in slots:  # one iterator shared by every worker: each takes the next slot
                delay = start + i * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    late[0] = max(late[0], -delay)
                sent[i] = time.time_ns()
                try:
                    async with session.post(url, data=bodies[i], headers=_JSON) as response:
                        await response.read()
                        statuses[i] = str(response.status)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    statuses[i] = f"error: {type(exc).__name__}"
                answered[i] = time.time_ns()

        await asyncio.gather(*(worker() for _ in range(connections)))
    return sent, answered, statuses, late[0] * 1000


def send_storm(port: int, bodies: Sequence[bytes], options: Options) -> Load:
    """Drive the server with every body over `--seconds` and `--connections`."""
    before = process_cpu_s(os.getpid()) or 0.0
    sent, answered, statuses, late_ms = asyncio.run(
        _send(port, bodies, options.seconds, options.connections)
    )
    client_cpu = (process_cpu_s(os.getpid()) or 0.0) - before
    first = min(sent)
    return Load(
        first_sent_ns=first,
        last_sent_ns=max(sent),
        last_answered_ns=max(answered),
        statuses=dict(Counter(statuses)),
        latencies_ms=[(a - s) / 1e6 for s, a in zip(sent, answered, strict=True)],
        sent_s=[(s - first) / 1e9 for s in sent],
        max_late_ms=late_ms,
        client_cpu_s=client_cpu,
    )


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
    port = free_port()
    command = [sys.executable, str(BARE_SERVER), "--port", str(port)]
    with tempfile.TemporaryDirectory(prefix="bare-storm-") as tmp:
        log = Path(tmp) / "server.log"
        with server("bare", command, log, post_ready(port)) as managed:
            pid = managed.proc.pid
            before = process_memory_kb(pid, "VmRSS")
            meter = CpuMeter(pid)
            meter.start()
            load = send_storm(port, bodies, options)
            cpu = meter.stop()
            peak = process_memory_kb(pid)
    return IntakeRun("bare", load, cpu, peak, before, managed.notes)


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


def write_config(workdir: Path, options: Options) -> Path:
    """The server's config: the containment limit raised, the concurrency of the command line."""
    config = workdir / "responder.yaml"
    config.write_text(
        "limits:\n"
        f"  max_containments: {options.max_containments}\n"
        "  window: 1h\n"
        f"  concurrency: {options.concurrency}\n",
        encoding="utf-8",
    )
    return config


def serve_command(port: int, workdir: Path, config: Path) -> list[str]:
    """`responder serve` on loopback, a fresh data directory, the shipped playbooks."""
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
        str(PLAYBOOKS),
    ]


def get_json(port: int, path: str) -> Any:  # noqa: ANN401 - JSON
    """GET a JSON document from the server; BenchError on anything but 200."""

    async def fetch() -> Any:  # noqa: ANN401 - JSON
        timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"http://{HOST}:{port}{path}") as response,
        ):
            body = await response.read()
            if response.status != 200:
                raise BenchError(f"GET {path} answered {response.status}: {body[:300]!r}")
            return json.loads(body)

    try:
        return asyncio.run(fetch())
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise BenchError(f"GET {path} failed: {exc}") from exc


def list_incidents(port: int) -> list[dict[str, Any]]:
    """Every incident (a fresh server has only this run's)."""
    found: list[dict[str, Any]] = []
    path: str | None = f"/v1/incidents?limit={INCIDENT_PAGE}"
    while path:
        page = get_json(port, path)
        found += page["incidents"]
        path = page["next"]
    return found


def wait_counted(port: int, options: Options, start_ns: int) -> float:
    """Poll until the incidents are final and count every event; s from the first POST."""
    deadline = time.monotonic() + CONTAIN_TIMEOUT_S
    while True:
        incidents = list_incidents(port)
        counted = sum(int(i["event_count"]) for i in incidents)
        final = all(i["state"] in FINAL_STATES for i in incidents)
        if counted >= options.events and final and len(incidents) >= options.containers:
            return (time.time_ns() - start_ns) / 1e9
        if time.monotonic() > deadline:
            raise BenchError(
                f"after {CONTAIN_TIMEOUT_S:g} s: {len(incidents)} incidents counting {counted} "
                f"of {options.events} events, {sum(not_final(incidents))} not final"
            )
        time.sleep(POLL_S)


def not_final(incidents: Sequence[dict[str, Any]]) -> Iterator[bool]:
    """True for each incident still running."""
    return (i["state"] not in FINAL_STATES for i in incidents)


def _stamp_ns(text: str | None) -> int | None:
    return int(datetime.fromisoformat(text).timestamp() * 1e9) if text else None


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
                last = _stamp_ns(record["time"])
    return kinds, last


def engine_state(
    client: docker.DockerClient, boxes: Sequence[Box]
) -> dict[str, tuple[bool, list[str]]]:
    """Each container's paused flag and networks now."""
    state = {}
    for box in boxes:
        attrs = client.api.inspect_container(box.id)
        networks = sorted((attrs.get("NetworkSettings") or {}).get("Networks") or {})
        state[box.id] = (bool(attrs["State"]["Paused"]), networks)
    return state


def run_storm(
    client: docker.DockerClient, log: EngineLog, boxes: Sequence[Box], options: Options, run_id: str
) -> Storm:
    """The responder under the storm, then every figure and fact the checks need."""
    ids = [box.id for box in boxes]
    networks = {box.id: engine_state(client, [box])[box.id][1] for box in boxes}
    with tempfile.TemporaryDirectory(prefix="responder-storm-") as tmp:
        workdir = Path(tmp)
        (workdir / "data").mkdir()
        config = write_config(workdir, options)
        port = free_port()
        server_log = workdir / "server.log"
        command = serve_command(port, workdir, config)
        readyz = status_ready(port, "GET", "/readyz")
        with server("responder", command, server_log, readyz, responder_env()) as managed:
            pid = managed.proc.pid
            bodies = storm_bodies(boxes, options, run_id)
            before = process_memory_kb(pid, "VmRSS")
            print(
                f"storm: {options.events} POSTs for {options.containers} containers over "
                f"{options.seconds:g} s, {options.connections} connections"
                + (" (under py-spy)" if options.profile else ""),
                flush=True,
            )
            problems = []
            meter = CpuMeter(pid)
            with py_spy(pid, options.profile):
                meter.start()
                load = send_storm(port, bodies, options)
                start = load.first_sent_ns
                counted = None
                try:
                    counted = wait_counted(port, options, start)
                except BenchError as exc:
                    problems.append(str(exc))
                try:
                    log.wait_paused(ids, start, CONTAIN_TIMEOUT_S)
                except BenchError as exc:
                    problems.append(str(exc))
                busy = meter.stop()
            time.sleep(SETTLE_S)  # a second pause or disconnect would show by now
            peak = process_memory_kb(pid)
            incidents = list_incidents(port)
            full = [get_json(port, f"/v1/incidents/{i['id']}") for i in incidents]
        intake = IntakeRun("responder", load, busy, peak, before, managed.notes)
        if managed.notes:
            print(f"  server log:\n{indent(log_tail(server_log, 8))}", flush=True)
        data_dir = workdir / "data"
        rows = journal_rows(data_dir)
        kinds, last_dispatch = read_audit(data_dir / AUDIT_FILE)
    finished = [t for i in full if (t := _stamp_ns(i.get("finished_at"))) is not None]
    storm = Storm(
        intake=intake,
        profiled=options.profile is not None,
        finished=Spread.of(start, finished) if finished else None,
        all_counted_s=counted,
        last_dispatch_s=(last_dispatch - start) / 1e9 if last_dispatch else None,
        busy_cpu=busy,
        journal_rows=rows,
        incidents=full,
        networks=networks,
        end_state=engine_state(client, boxes),
        audit=dict(kinds),
        problems=problems,
    )
    add_engine_events(storm, log.since(start, ids), ids, start)
    return storm


def add_engine_events(
    storm: Storm, events: Sequence[EngineEvent], ids: Sequence[str], start_ns: int
) -> None:
    """What the engine did to each container: counts, and when each was cut off and paused."""
    storm.engine = {i: dict.fromkeys(EngineLog.ACTIONS, 0) for i in ids}
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
            + (f"; others: {_others(load.statuses)}" if load.failed else ""),
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


def _others(statuses: Mapping[str, int]) -> str:
    odd = [(s, n) for s, n in statuses.items() if not s.startswith("2")]
    return ", ".join(f"{s} x {n}" for s, n in sorted(odd, key=lambda item: -item[1]))


def _mb(kb: int | None) -> str:
    return f"{kb / 1024:.1f}" if kb is not None else "?"


def _ratio(ours: float | None, ref: float | None) -> str:
    return f"{ours / ref:.2f}" if ours is not None and ref else "n/a"


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
    ratio = [
        "ratio",
        "",
        "",
        _ratio(r["p50"], b["p50"]),
        _ratio(r["p99"], b["p99"]),
        _ratio(r["max"], b["max"]),
        "",
        _ratio(ours.cpu.server_s, bare.cpu.server_s),
        _ratio(ours.rss_before_kb, bare.rss_before_kb),
        _ratio(ours.peak_rss_kb, bare.peak_rss_kb),
    ]
    headers = ["server", "2xx", "other", "p50 ms", "p99 ms", "max ms", "send s", "CPU-s"]
    table([*headers, "RSS MB", "peak MB"], [_intake_row(bare), _intake_row(ours), ratio])
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
    met = "met" if peak is not None and peak / 1024 < MEMORY_TARGET_MB else "NOT met"
    print(f"target: server peak memory < {MEMORY_TARGET_MB:g} MB: {_mb(peak)} MB -> {met}")
    if storm.paused:
        print(
            f"figure: all {options.containers} contained {storm.paused.last_s:.3f} s after the "
            f"first POST (the first at {storm.paused.first_s:.3f} s); the issue sets no target"
        )
    return held


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
    print("responder storm benchmark: Falco events for a fleet, against the bare handler and SDK")
    print(f"  command   {' '.join([Path(sys.executable).name, *sys.argv])}")
    for key, value in env.items():
        print(f"  {key:9} {value}")
    print(
        f"  settings  {options.events} events, {options.containers} containers, "
        f"{options.seconds:g} s, {options.connections} connections; server: shipped playbooks "
        f"({PLAYBOOK}), limits.concurrency {options.concurrency}, limits.max_containments "
        f"raised to {options.max_containments} per 1h (the default, 5 per 10m, would hold all "
        "but 5 incidents)"
    )
    print(f"  containers {prefix}-* (label {LABEL}), removed at the end", flush=True)


def write_json(path: Path, env: dict[str, str], options: Options, results: Results) -> None:
    """Every figure as JSON, for comparing runs later."""

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
    document = {
        "environment": env,
        "settings": asdict(options),
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
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")


def run_all(client: docker.DockerClient, boxes: Boxes, log: EngineLog, options: Options) -> Results:
    """The containers, the SDK reference, the bare reference, then the storm."""
    print(f"making {2 * options.containers} containers", flush=True)
    ours = boxes.create(options.containers, "storm", PRODUCTION)
    theirs = boxes.create(options.containers, "sdk", PRODUCTION)
    log.watch([*ours, *theirs])
    sdk = sdk_reference(client, log, theirs, options.concurrency)
    boxes.remove(theirs)
    bare = bare_reference(storm_bodies(ours, options, f"bare-{boxes.run_id}"), options)
    storm = run_storm(client, log, ours, options, boxes.run_id)
    return Results(sdk, bare, storm, ours)


def preflight(options: Options, stderr: IO[str]) -> docker.DockerClient | None:
    """A client of the engine, or None (said on stderr) when a tool or the engine is missing."""
    if options.profile is not None and find_py_spy() is None:
        print(PY_SPY_HINT, file=stderr)
        return None
    return docker_client(stderr)


def main(argv: Sequence[str] | None = None, stderr: IO[str] = sys.stderr) -> int:
    """Run the references and the storm, print the figures; the exit status says if all held."""
    options = parse_args(argv)
    client = preflight(options, stderr)
    if client is None:
        return EXIT_MISSING
    signal.signal(signal.SIGTERM, raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    boxes = Boxes(client, secrets.token_hex(4))
    log: EngineLog | None = None
    results: Results | None = None
    status = 0
    try:
        env = environment(client, ensure_image(client))
        print_header(env, options, boxes.prefix)
        log = EngineLog(client)
        results = run_all(client, boxes, log, options)
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
        if log is not None:
            log.close()
        if not remove_boxes(boxes, stderr):
            status = status or EXIT_FAILED
        client.close()
    if results is not None:
        if not report(results, options):
            status = status or EXIT_FAILED
        if options.json_out is not None:
            write_json(options.json_out, env, options, results)
            print(f"results written to {options.json_out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
