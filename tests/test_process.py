"""The real `responder serve` process: kill -9 under load loses nothing acknowledged; SIGTERM is graceful."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from _peers import free_port

from responder.journal import JOURNAL_FILE, EventQuery, JournalReader

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class Server:
    """`python -m responder serve` on a free port with its own data directory."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "RESPONDER_LOG_LEVEL": "WARNING"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "responder",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
                "--playbooks",
                str(data_dir / "none"),
                *extra,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read().decode()}")  # type: ignore[union-attr]
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("server did not start within 20 s")

    def stop(self) -> None:
        """Kill it if it still runs, and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        if self.process.stderr:
            self.process.stderr.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory for one server lifetime or several."""
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: Path) -> Iterator[Server]:
    """A running server, stopped at the end."""
    running = Server(data_dir)
    yield running
    running.stop()


def body(worker: int, n: int) -> dict[str, Any]:
    """A unique Falco body."""
    return {"rule": "Load", "priority": "Notice", "output": f"w{worker} n{n}", "time": n}


async def _load(url: str, acknowledged: list[str], stop: asyncio.Event) -> None:
    async def worker(session: aiohttp.ClientSession, index: int) -> None:
        for n in range(100_000):
            if stop.is_set():
                return
            try:
                async with session.post(f"{url}/v1/events/falco", json=body(index, n)) as response:
                    if response.status in (200, 202):
                        acknowledged.extend(e["id"] for e in (await response.json())["events"])
            except (aiohttp.ClientError, TimeoutError):
                return

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session, i) for i in range(32)))


@pytest.mark.fault("kill -9 under load (intake only)")
async def test_kill_9_under_load_loses_no_acknowledged_event(
    data_dir: Path, server: Server
) -> None:
    """Every event answered 2xx before SIGKILL is in the journal after restart."""
    acknowledged: list[str] = []
    stop = asyncio.Event()
    load = asyncio.create_task(_load(server.url, acknowledged, stop))
    for _ in range(2000):  # up to 20 s for 300 acknowledgements
        if len(acknowledged) >= 300:
            break
        await asyncio.sleep(0.01)
    server.process.send_signal(signal.SIGKILL)
    stop.set()
    await load
    server.stop()
    restarted = await asyncio.to_thread(Server, data_dir)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{restarted.url}/readyz") as response,
        ):
            assert (await response.json())["checks"]["journal"]["ok"]
    finally:
        restarted.stop()
    reader = JournalReader(data_dir / JOURNAL_FILE)
    stored = {row.id for row in reader.events(EventQuery(limit=1_000_000))}
    reader.close()
    assert len(acknowledged) >= 300
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged events lost"


async def test_sigterm_finishes_the_request_in_flight(server: Server) -> None:
    """A body half sent when SIGTERM arrives is still journaled and answered; then the process exits 0."""
    payload = b'{"rule": "Slow", "priority": "Notice", "output": "in flight"}'
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /v1/events/falco HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload[:10]
    )
    await writer.drain()
    await asyncio.sleep(0.3)
    server.process.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.3)
    writer.write(payload[10:])
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 202")
    assert server.process.wait(15) == 0


@pytest.mark.fault("slow client: body never finishes")
async def test_slow_body_times_out_with_408_and_the_connection_closes(data_dir: Path) -> None:
    """A body that never finishes arriving gets 408 after the body timeout; shutdown is then prompt."""
    config = data_dir.parent / "responder.yaml"
    config.write_text("server:\n  body_timeout: 0.5\n")
    server = await asyncio.to_thread(Server, data_dir, "--config", str(config))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST /v1/events/falco HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        rest = await asyncio.wait_for(reader.read(), 10)  # the server closes: EOF arrives
        writer.close()
        assert status_line.startswith(b"HTTP/1.1 408")
        assert b"did not arrive within 0.5 s" in rest
        server.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.process.wait, 10) == 0
    finally:
        server.stop()


async def test_malformed_requests_are_answered_400_and_logged_in_one_line(data_dir: Path) -> None:
    """Regression: each logged an ERROR with a traceback, and the gzip one answered 500.

    Broken chunk framing is answered by aiohttp itself; a gzip body that does not decompress
    reaches the handler; a body whose connection is lost half-way ("unexpected error on POST")
    has no one to answer.
    """
    server = await asyncio.to_thread(Server, data_dir, "--log-level", "INFO")
    try:
        head = b"POST /v1/events/falco HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        answers = []
        for request in (
            head + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
            head
            + b"Content-Encoding: gzip\r\nContent-Length: 8\r\nConnection: close\r\n\r\nnot gzip",
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(request)
            await writer.drain()
            answers.append(await asyncio.wait_for(reader.read(), 10))  # closed after the answer
            writer.close()
        chunked, gzipped = answers
        # A sender that breaks the chunk framing mid-body, and one that goes away mid-body.
        for rest in (b"zz\r\nabc\r\n0\r\n\r\n", None):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(head + b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n')
            await writer.drain()
            await asyncio.sleep(0.2)  # the handler is reading the body
            if rest is not None:
                writer.write(rest)
            writer.close()
        await post_one(server.url)  # it still serves
        assert chunked.startswith(b"HTTP/1.0 400 Bad Request")
        assert gzipped.startswith(b"HTTP/1.1 400 Bad Request")
        assert b'"message": "body is not valid gzip: Error -3 while decompressing' in gzipped
        server.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.process.wait, 10) == 0
        assert server.process.stderr is not None
        log = (await asyncio.to_thread(server.process.stderr.read)).decode()
    finally:
        server.stop()
    assert "Traceback" not in log
    assert "ERROR" not in log
    [line] = [line for line in log.splitlines() if "aiohttp.server" in line]
    assert line.endswith(
        "INFO aiohttp.server: malformed HTTP request answered 400: "
        "Error handling request from 127.0.0.1: Invalid character in chunk size"
    )


async def post_one(url: str) -> None:
    """One Falco event, acknowledged."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/v1/events/falco", json=body(0, 0)) as response,
    ):
        assert response.status == 202
