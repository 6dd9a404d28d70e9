"""What the benchmarks share: servers as processes, py-spy, the machine's facts, test containers.

`bench/intake.py`, `bench/contain.py` and `bench/storm.py` import from here (the scripts run with
`bench/` first on `sys.path`). Only 127.0.0.1 is ever targeted, and every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import docker
import docker.errors

from responder.testing import TEST_IMAGE, ensure_test_image

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from types import FrameType

HOST = "127.0.0.1"
INTAKE_PATH = "/v1/events/falco"
BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
BARE_SERVER = BENCH_DIR / "bare_server.py"
JOURNAL_FILE = "journal.sqlite3"

READY_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0
STOP_TIMEOUT_S = 20.0
PROBE_TIMEOUT_S = 1.0
PROBE_BODY = b'{"rule":"bench readiness probe","priority":"Debug"}'

IMAGE = TEST_IMAGE  # the tests' image, made the same way
SLEEPER = ["sleep", "3600"]  # a container left behind by a SIGKILLed run exits within the hour
LABEL = "responder-bench"
DOCKER_TIMEOUT_S = 60
CREATE_THREADS = 8


class BenchError(Exception):
    """A run could not be completed: a server did not start, a tool or a check failed."""


# -- servers as processes --------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def http_status(port: int, method: str, path: str, body: bytes | None = None) -> int | None:
    """The status of one request to 127.0.0.1:port, or None if there is no answer yet."""
    conn = http.client.HTTPConnection(HOST, port, timeout=PROBE_TIMEOUT_S)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
    except (OSError, http.client.HTTPException):
        return None
    else:
        return response.status
    finally:
        conn.close()


def status_ready(
    port: int, method: str, path: str, body: bytes | None = None
) -> Callable[[], bool]:
    """A readiness check: the request is answered with a 2xx."""

    def ready() -> bool:
        status = http_status(port, method, path, body)
        return status is not None and 200 <= status < 300

    return ready


def post_ready(port: int) -> Callable[[], bool]:
    """Ready when a POST of a small Falco event to the intake path is acknowledged."""
    return status_ready(port, "POST", INTAKE_PATH, PROBE_BODY)


def indent(text: str, prefix: str = "    | ") -> str:
    """Every line of `text` behind `prefix`."""
    return "\n".join(prefix + line for line in text.splitlines())


def log_tail(log: Path, lines: int = 20) -> str:
    """The last lines of a log file, or a note that there is none."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def wait_ready(
    name: str, proc: subprocess.Popen[bytes], ready: Callable[[], bool], log: Path
) -> None:
    """Poll `ready` until it holds; raise BenchError if the process exits or the deadline passes."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with {proc.returncode}:\n{log_tail(log)}")
        if ready():
            return
        time.sleep(0.1)
    raise BenchError(f"{name} not ready within {READY_TIMEOUT_S:g} s:\n{log_tail(log)}")


@dataclass
class Managed:
    """A server process, and what went wrong when it was stopped (empty: a clean stop)."""

    proc: subprocess.Popen[bytes]
    notes: list[str] = field(default_factory=list)


def stop(proc: subprocess.Popen[bytes]) -> list[str]:
    """SIGINT (a graceful shutdown), SIGTERM if that is not heeded, SIGKILL as the last resort.

    Returns a note for each step that was needed beyond the first, and for an unclean exit:
    a server that ignores a signal under load has lost it, which is worth knowing.
    """
    notes: list[str] = []
    for signum, grace in ((signal.SIGINT, STOP_GRACE_S), (signal.SIGTERM, STOP_TIMEOUT_S)):
        if proc.poll() is not None:
            break
        proc.send_signal(signum)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            notes.append(f"still running {grace:g} s after {signum.name}")
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)
        notes.append("killed with SIGKILL")
    elif proc.returncode != 0:
        notes.append(f"exited with status {proc.returncode}")
    return notes


@contextlib.contextmanager
def server(
    name: str,
    command: list[str],
    log: Path,
    ready: Callable[[], bool],
    env: dict[str, str] | None = None,
) -> Iterator[Managed]:
    """Run a server until the block ends, its output in `log`; it is always stopped.

    It runs in the log's directory, so that no `responder/` in the caller's working directory
    shadows the installed package (or the one PYTHONPATH names).
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=log.parent,
        )
        managed = Managed(proc)
        try:
            wait_ready(name, proc, ready, log)
            yield managed
        finally:
            managed.notes.extend(stop(proc))


def responder_env() -> dict[str, str]:
    """The environment without RESPONDER_* settings, so only the flags configure the server."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RESPONDER_")}


def journal_rows(data_dir: Path) -> int:
    """`SELECT count(*) FROM events` in the stopped server's journal."""
    path = data_dir / JOURNAL_FILE
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        (count,) = conn.execute("SELECT count(*) FROM events").fetchone()
    finally:
        conn.close()
    return int(count)


# -- CPU and memory of a process -------------------------------------------------------------


@dataclass(frozen=True)
class Cpu:
    """CPU time used over an interval, by the whole machine and by the server process."""

    elapsed_s: float
    machine_s: float
    """Busy CPU-seconds of every CPU (user, system, interrupts, steal), from /proc/stat."""
    server_s: float | None
    """User and system CPU-seconds of the server process (every thread)."""

    @property
    def busy(self) -> float:
        """The machine's CPUs busy over the interval, as a fraction of all of them."""
        cpus = os.cpu_count() or 1
        return self.machine_s / (self.elapsed_s * cpus) if self.elapsed_s > 0 else 0.0


def machine_busy_s() -> float:
    """Busy CPU-seconds of every CPU since boot (/proc/stat: all but idle and iowait)."""
    try:
        first = Path("/proc/stat").read_text(encoding="utf-8").splitlines()[0].split()
    except OSError:
        return 0.0
    ticks = [int(v) for v in first[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int | None) -> float | None:
    """User and system CPU-seconds of a process (/proc/PID/stat), or None."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_memory_kb(pid: int, key: str = "VmHWM") -> int | None:
    """A line of /proc/PID/status in kB (VmHWM: peak resident set size; VmRSS: now), or None."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return None


class CpuMeter:
    """CPU time between `start` and `stop`."""

    def __init__(self, pid: int | None = None) -> None:
        self._pid = pid
        self._t0 = 0.0
        self._machine = 0.0
        self._server: float | None = None

    def start(self) -> None:
        """Read the counters."""
        self._server = process_cpu_s(self._pid)
        self._machine = machine_busy_s()
        self._t0 = time.monotonic()

    def stop(self) -> Cpu:
        """What was used since `start`."""
        elapsed = time.monotonic() - self._t0
        machine = machine_busy_s() - self._machine
        server = process_cpu_s(self._pid)
        used = server - self._server if server is not None and self._server is not None else None
        return Cpu(elapsed, machine, used)


# -- py-spy ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """Where and how to record a py-spy profile of the server."""

    out: Path
    format: str
    gil: bool


def add_profile_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """`--profile FILE`, `--profile-format`, `--profile-gil`; `what` says which run is profiled."""
    parser.add_argument("--profile", type=Path, metavar="FILE", help=f"{what}, into FILE")
    parser.add_argument(
        "--profile-format",
        choices=["speedscope", "raw", "flamegraph"],
        default="speedscope",
        help="py-spy output format (speedscope)",
    )
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="sample only the thread holding the GIL (py-spy --gil): where Python CPU time goes",
    )


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    """`--json FILE`: every figure as JSON."""
    parser.add_argument(
        "--json", dest="json_out", type=Path, metavar="FILE", help="write every figure as JSON"
    )


def profile_from(args: argparse.Namespace) -> Profile | None:
    """The profile the command line asks for, or None."""
    if args.profile is None:
        return None
    return Profile(Path(args.profile), str(args.profile_format), bool(args.profile_gil))


def find_py_spy() -> str | None:
    """py-spy on PATH, or next to this Python (the venv's bin)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


PY_SPY_HINT = "--profile needs py-spy: .venv/bin/pip install py-spy"


@contextlib.contextmanager
def py_spy(
    pid: int, profile: Profile | None, *, rate: int = 500, prefix: Sequence[str] = ()
) -> Iterator[None]:
    """`py-spy record` of a process (every thread) while the block runs, when asked for.

    py-spy attaches before the block starts and writes its output when the block ends (on
    SIGINT). `prefix` runs it under another command (taskset).
    """
    if profile is None:
        yield
        return
    spy_path = find_py_spy()
    if spy_path is None:
        raise BenchError(PY_SPY_HINT)
    command = [
        *prefix,
        spy_path,
        "record",
        f"--pid={pid}",
        f"--rate={rate}",
        "--threads",
        *(["--gil"] if profile.gil else []),
        f"--format={profile.format}",
        f"--output={profile.out}",
    ]
    with tempfile.TemporaryFile() as spy_log:
        spy = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=spy_log, stderr=spy_log)
        failed = False
        try:
            time.sleep(1.0)  # attached before the work starts
            if spy.poll() is not None:
                failed = True
            else:
                yield
        finally:
            if spy.poll() is None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
                try:
                    spy.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    spy.kill()
                    spy.wait(timeout=10)
        if failed or spy.returncode not in (0, -signal.SIGINT):
            spy_log.seek(0)
            tail = spy_log.read()[-500:].decode(errors="replace")
            raise BenchError(f"py-spy exited with {spy.returncode}: {tail}")


# -- the machine and the software ------------------------------------------------------------


def tool_version(command: list[str]) -> str:
    """The first line a tool prints about itself, or '?'."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "?"


def responder_source() -> str:
    """Where the server processes import responder from (PYTHONPATH can point at another tree)."""
    code = "import responder, os; print(os.path.dirname(responder.__file__))"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=responder_env(),
            cwd=tempfile.gettempdir(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return done.stdout.strip() or "?"


def git_commit() -> str:
    """`git rev-parse --short HEAD`, with `+changes` when the tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
            cwd=REPO,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
            cwd=REPO,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return f"{head}+changes" if dirty else head


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine() -> str:
    """CPUs, model, architecture and memory, in one line."""
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    return f"{os.cpu_count()} CPUs, {cpu_model()}, {platform.machine()}{memory}"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1/5/15 min, before)"


# -- figures ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> None:
    """Aligned columns: the first `left` to the left, the rest to the right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        cells = [
            cell.ljust(w) if i < left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  " + "  ".join(cells).rstrip())


# -- test containers -------------------------------------------------------------------------


def docker_client(stderr: Any) -> docker.DockerClient | None:  # noqa: ANN401 - a text stream
    """A client of the local engine with the test image available, or None (said on stderr)."""
    try:
        client = docker.from_env(version="auto", timeout=DOCKER_TIMEOUT_S, max_pool_size=64)
        client.ping()
    except docker.errors.DockerException as exc:
        print(f"no Docker engine answers: {exc}", file=stderr)
        return None
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        if shutil.which("busybox") is None and not Path("/bin/busybox").exists():
            print(
                f"{IMAGE} is missing and there is no busybox to build it from: "
                "sudo apt-get install -y busybox-static",
                file=stderr,
            )
            client.close()
            return None
    return client


def ensure_image(client: docker.DockerClient) -> str:
    """The test image, imported without any registry when missing; says which."""
    if ensure_test_image(client, IMAGE):
        return f"{IMAGE} (imported from the host's busybox)"
    return f"{IMAGE} (present)"


def engine_facts(client: docker.DockerClient) -> str:
    """The engine's version, storage, cgroup version and runtime, in one line."""
    version = client.version()
    info = client.info()
    return (
        f"Docker {version.get('Version', '?')} (API {version.get('ApiVersion', '?')}), "
        f"storage {info.get('Driver', '?')}, cgroup {info.get('CgroupVersion', '?')}, "
        f"runtime {info.get('DefaultRuntime', '?')}, "
        f"{info.get('Containers', '?')} containers before the run"
    )


@dataclass(frozen=True)
class Box:
    """One container made for this run."""

    id: str
    name: str

    @property
    def short_id(self) -> str:
        """The 12 hex digits Falco puts in `container.id`."""
        return self.id[:12]


class Boxes:
    """Every container this run makes: uniquely named, labelled, and removed in `remove_all`."""

    def __init__(self, client: docker.DockerClient, run_id: str) -> None:
        self._api = client.api
        self.run_id = run_id
        self.prefix = f"{LABEL}-{run_id}"
        self._made: set[str] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(CREATE_THREADS, thread_name_prefix="boxes")
        self._count = 0

    def create(self, count: int, kind: str, labels: Mapping[str, str] | None = None) -> list[Box]:
        """`count` running containers, made a few at a time, with these labels besides ours."""
        names = []
        with self._lock:
            for _ in range(count):
                self._count += 1
                names.append(f"{self.prefix}-{kind}-{self._count}")
        every = {**(labels or {}), LABEL: self.run_id}
        return list(self._pool.map(lambda name: self._create_one(name, every), names))

    def _create_one(self, name: str, labels: dict[str, str]) -> Box:
        made = self._api.create_container(
            IMAGE, SLEEPER, name=name, labels=labels, stop_signal="SIGKILL"
        )
        container_id = str(made["Id"])
        with self._lock:
            self._made.add(container_id)
        self._api.start(container_id)
        return Box(container_id, name)

    def remove(self, boxes: Sequence[Box]) -> None:
        """Remove these (paused ones too)."""
        list(self._pool.map(self._remove_one, [box.id for box in boxes]))

    def _remove_one(self, container_id: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self._api.remove_container(container_id, force=True)
        with self._lock:
            self._made.discard(container_id)

    def remove_all(self) -> tuple[int, list[str]]:
        """Every container of this run, found by label as well as remembered; (removed, failures)."""
        self._pool.shutdown(wait=True, cancel_futures=True)  # nothing is made after this
        found = {str(c["Id"]) for c in self._api.containers(all=True, filters=self.filters())}
        with self._lock:
            ids = sorted(found | self._made)
        failures = []
        removed = 0
        with ThreadPoolExecutor(CREATE_THREADS, thread_name_prefix="cleanup") as pool:
            for container_id, error in zip(ids, pool.map(self._try_remove, ids), strict=True):
                if error:
                    failures.append(f"{container_id[:12]}: {error}")
                else:
                    removed += 1
        return removed, failures

    def _try_remove(self, container_id: str) -> str | None:
        try:
            self._api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            return None
        except (docker.errors.DockerException, OSError) as exc:
            return str(exc)
        return None

    def filters(self) -> dict[str, Any]:
        """The Docker filter that selects this run's containers."""
        return {"label": f"{LABEL}={self.run_id}"}


def remove_boxes(boxes: Boxes, stderr: Any) -> bool:  # noqa: ANN401 - a text stream
    """Remove every container of the run, uninterrupted by Ctrl-C; True when none is left."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        removed, failures = boxes.remove_all()
    finally:
        signal.signal(signal.SIGINT, previous)
    if removed:
        print(f"removed {removed} leftover container(s) of this run", file=stderr)
    for failure in failures:
        print(f"could not remove {failure}", file=stderr)
    if failures:
        print(
            f"remove them with: docker rm -f $(docker ps -aq --filter label={LABEL})", file=stderr
        )
    return not failures


def raise_interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    """A SIGTERM handler: stop as on Ctrl-C, so that the containers are removed."""
    del frame
    raise KeyboardInterrupt(f"signal {signum}")
