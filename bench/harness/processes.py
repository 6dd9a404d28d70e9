"""A server as a process: a free port, a readiness check, its log, and a stop that always happens."""

from __future__ import annotations

import contextlib
import http.client
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness import HOST, BenchError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

READY_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0
STOP_TIMEOUT_S = 20.0
PROBE_TIMEOUT_S = 1.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A temporary directory for one server's files, removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


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


@dataclass
class Server:
    """A server process that answered its readiness check, and how it stopped (empty: cleanly)."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    workdir: Path
    """Its working directory: its log, and its data when it has any."""
    notes: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    @property
    def log(self) -> Path:
        """Its output, stdout and stderr together."""
        return self.workdir / "server.log"

    @property
    def data_dir(self) -> Path:
        """Where a responder keeps its journal, incidents and audit trail."""
        return self.workdir / "data"


@contextlib.contextmanager
def server(
    name: str,
    port: int,
    command: list[str],
    workdir: Path,
    *,
    ready: Callable[[], bool],
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """Run a server until the block ends, its output in `workdir`; it is always stopped.

    It runs in `workdir`, so that no `responder/` in the caller's working directory shadows
    the installed package (or the one PYTHONPATH names).
    """
    log = workdir / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
        running = Server(name, port, proc, workdir)
        try:
            wait_ready(name, proc, ready, log)
            yield running
        finally:
            running.notes.extend(stop(proc))
