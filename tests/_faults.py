"""Faults for the fault tests: an engine socket that goes away on cue, and a server to kill -9.

Also what the kill -9 tests share: the snapshot, isolate, pause playbook, Falco bodies about a
container, polling with a deadline, and the checks of what a restarted server left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Self, TypeVar

from _evidence import sha256_of
from _peers import free_port

from responder.journal import JOURNAL_FILE, EventQuery, JournalReader

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from types import TracebackType

    import aiohttp

    from responder.engine import ContainerInfo

__all__ = [
    "ACTIONS",
    "FALCO",
    "DockerProxy",
    "ServeProcess",
    "audit_verify",
    "check_evidence",
    "journaled_ids",
    "poll",
    "post_falco",
    "read_incidents",
    "shell",
    "write_playbook",
]

T = TypeVar("T")
FALCO = "/v1/events/falco"
RULE = "Terminal shell in container"
PLAYBOOK = f"""\
name: contain-shell
match:
  rules: [{RULE}]
steps:
  - action: docker:snapshot
    with: {{export: EXPORT}}
  - action: docker:isolate
  - action: docker:pause
"""
ACTIONS = ["docker:snapshot", "docker:isolate", "docker:pause"]

DOCKER_SOCKET = "/var/run/docker.sock"
_CHUNK = 1 << 16


class DockerProxy:
    """A Unix socket in front of the real engine's, forwarding bytes both ways.

    `cut_on(marker)` arms it: the first request whose bytes contain `marker` is never
    forwarded; instead the proxy goes away at once, as a daemon that died would: every open
    connection is dropped and new ones are refused (the socket file stays, unanswered).
    `cut_on(marker, after=n)` forwards that request and goes away once `n` bytes of its
    answer have reached the client: a daemon that dies mid-stream. `start()` brings it back
    on the same path. `delay_on(marker, seconds)` holds the first
    request containing `marker` for `seconds`, then forwards it: an engine slow to answer.
    """

    def __init__(self, path: Path, upstream: str = DOCKER_SOCKET) -> None:
        self.path = path
        self.upstream = upstream
        self.cut = asyncio.Event()
        self._marker: bytes | None = None
        self._after = 0
        self._delay: tuple[bytes, float] | None = None
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.WriteTransport] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The engine address to give the responder."""
        return f"unix://{self.path}"

    def cut_on(self, marker: bytes, *, after: int = 0) -> None:
        """Go away when a request containing `marker` arrives: at once, or `after` answer bytes."""
        self._marker = marker
        self._after = after
        self.cut.clear()

    def delay_on(self, marker: bytes, seconds: float) -> None:
        """Hold the first request containing `marker` for `seconds` before forwarding it."""
        self._delay = (marker, seconds)

    async def start(self) -> None:
        """Listen (again) on `path`."""
        self._marker = None
        self._server = await asyncio.start_unix_server(self._handle, path=str(self.path))

    async def stop(self) -> None:
        """Stop listening and drop every connection; wait until the handlers have ended."""
        self._go_away()
        if self._handlers:
            async with asyncio.timeout(10):
                await asyncio.gather(*self._handlers, return_exceptions=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _go_away(self) -> None:
        if self._server is not None:
            self._server.close()  # the file stays: a connect is refused, as to a dead daemon
            self._server = None
        for transport in list(self._transports):
            transport.abort()

    async def _handle(self, down_reader: asyncio.StreamReader, down: asyncio.StreamWriter) -> None:
        if self._server is None:  # accepted just before the cut: refused all the same
            down.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None  # always inside a task
        self._handlers.add(task)
        self._transports.add(down.transport)
        up: asyncio.StreamWriter | None = None
        try:
            up_reader, up = await asyncio.open_unix_connection(self.upstream)
            self._transports.add(up.transport)
            doomed: list[int] = []  # the answer bytes this connection may still pass, once cut
            await asyncio.gather(
                self._pipe(down_reader, up, doomed, watch=True),
                self._pipe(up_reader, down, doomed, watch=False),
            )
        except OSError:
            pass
        finally:
            for writer in (down, up):
                if writer is not None:
                    writer.transport.abort()
                    self._transports.discard(writer.transport)
            self._handlers.discard(task)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        doomed: list[int],
        *,
        watch: bool,
    ) -> None:
        tail = b""
        try:
            while data := await reader.read(_CHUNK):
                if watch and self._marker is not None:
                    seen = tail + data
                    if self._marker in seen and self._after:
                        doomed.append(self._after)  # forwarded; cut in its answer
                        self._marker = None
                    elif self._marker in seen:
                        self.cut.set()
                        self._go_away()
                        return
                    tail = seen[-len(self._marker) :] if self._marker else b""
                if doomed and not watch:
                    data = data[: doomed[0]]
                    doomed[0] -= len(data)
                if watch and self._delay is not None and self._delay[0] in data:
                    seconds = self._delay[1]
                    self._delay = None
                    await asyncio.sleep(seconds)
                writer.write(data)
                await writer.drain()
                if doomed and not watch and doomed[0] <= 0:
                    self.cut.set()
                    self._go_away()
                    return
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:
            writer.transport.abort()  # one direction broke: so does the other


class ServeProcess:
    """`python -m responder serve` on its data directory; killed and started again at will."""

    def __init__(self, data_dir: Path, playbooks: Path, config: Path, log_dir: Path) -> None:
        self.data_dir = data_dir
        self.playbooks = playbooks
        self.config = config
        self.log_dir = log_dir
        self.starts = 0
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The base URL of the current process."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """The current process's stderr (its log)."""
        return self.log_dir / f"serve-{self.starts}.log"

    def start(self) -> None:
        """Start a process on a free port and wait (20 s at most) until it accepts connections."""
        self.starts += 1
        self.port = free_port()
        env = {**os.environ, "RESPONDER_LOG_LEVEL": "INFO"}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "responder",
                    "serve",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                    "--playbooks",
                    str(self.playbooks),
                    "--config",
                    str(self.config),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited at start:\n{self.log.read_text()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError(f"server did not listen within 20 s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def stop(self) -> int | None:
        """SIGTERM and wait (kill after 20 s); the exit code, or None if it never ran."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                return self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(10)


def read_incidents(path: Path) -> dict[str, dict[str, Any]]:
    """Every incident in the store at `path`, read-only: its columns and `steps` by index."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("BEGIN")  # one snapshot for both tables
        incidents = {
            row["id"]: dict(row) | {"steps": {}} for row in conn.execute("SELECT * FROM incidents")
        }
        for row in conn.execute("SELECT incident_id, idx, record FROM steps"):
            incidents[row["incident_id"]]["steps"][row["idx"]] = json.loads(row["record"])
        conn.execute("COMMIT")
    finally:
        conn.close()
    return incidents


def write_playbook(directory: Path, *, export: bool) -> Path:
    """The snapshot → isolate → pause playbook in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "shell.yaml").write_text(PLAYBOOK.replace("EXPORT", str(export).lower()))
    return directory


def shell(container: ContainerInfo, n: int = 0) -> dict[str, Any]:
    """A Falco body about a shell in `container`; `n` makes it a distinct event."""
    return {
        "rule": RULE,
        "priority": "Notice",
        "output": f"shell in {container.name} #{n}",
        "time": 1_790_000_000_000_000_000 + n,
        "output_fields": {"container.id": container.id, "container.name": container.name},
    }


async def post_falco(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> list[str]:
    """The ids the server acknowledged (202) for `body`; none if it did not answer 202."""
    async with session.post(f"{url}{FALCO}", json=body) as response:
        if response.status != HTTPStatus.ACCEPTED:
            return []
        return [event["id"] for event in (await response.json())["events"]]


async def poll(what: str, check: Callable[[], T | None], within: float) -> T:
    """Call `check` in a thread every 20 ms until it returns something; fail after `within` s."""
    deadline = time.monotonic() + within
    while (found := await asyncio.to_thread(check)) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(0.02)
    return found


def journaled_ids(data_dir: Path) -> set[str]:
    """The id of every event in the journal of `data_dir`."""
    journal = JournalReader(data_dir / JOURNAL_FILE)
    try:
        return {row.id for row in journal.events(EventQuery(limit=1_000_000))}
    finally:
        journal.close()


def check_evidence(evidence: Path) -> None:
    """Every file the manifest lists has the hash the manifest gives."""
    manifest = json.loads((evidence / "manifest.json").read_text())
    for artifact in manifest["artifacts"]:
        digest = sha256_of(evidence / artifact["name"])
        assert digest == artifact["sha256"], f"{evidence.name}: {artifact['name']}"


def audit_verify(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`responder audit verify` on the data directory, as a process."""
    command = [sys.executable, "-m", "responder", "audit", "verify", "--data-dir", str(data_dir)]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
