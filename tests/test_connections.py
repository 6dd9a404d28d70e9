"""The real server against hostile connections: slow headers, a thousand sockets, a flood of 401s."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import TYPE_CHECKING

import aiohttp
import pytest
from _faults import ServeProcess

from responder.journal import JOURNAL_FILE, EventQuery, JournalReader

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TOKEN = "connections-test-token-0123456789"
BODY = b'{"rule":"Terminal shell in container","priority":"Notice","output":"x","output_fields":{}}'


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServeProcess]:
    """`responder serve` with a token and a one-second idle timeout."""
    monkeypatch.setenv("RESPONDER_TOKEN", TOKEN)
    config = tmp_path / "config.yaml"
    config.write_text("server:\n  idle_timeout: 1\n")
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    serve = ServeProcess(tmp_path / "data", playbooks, config, tmp_path)
    serve.start()
    yield serve
    serve.stop()


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection (recv gives b"" or a reset) within `seconds`."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.fault("slow client: headers a byte at a time (slowloris)")
def test_headers_sent_a_byte_at_a_time_are_cut_off(server: ServeProcess) -> None:
    """Slowloris: a request whose headers never end is closed after idle_timeout, unanswered."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /v1/events/falco HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 10 and not closed:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            closed = closed_within(sock, 0.3)
        assert closed, "the server kept a connection whose headers never ended"


@pytest.mark.fault("slow client: connection idle")
def test_an_idle_connection_is_closed(server: ServeProcess) -> None:
    """A connection that never sends a request does not hold a slot for ever."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        assert closed_within(sock, 10)


@pytest.mark.fault("1000 concurrent connections")
async def test_a_thousand_open_connections_do_not_stop_the_service(server: ServeProcess) -> None:
    """1,000 sockets held open (half of them mid-headers); intake and health still answer."""
    held: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        for n in range(1000):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            if n % 2:
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
            held.append((reader, writer))
        # A bound on a hang, not a timing figure.
        async with asyncio.timeout(60), aiohttp.ClientSession() as session:
            health = await session.get(f"{server.url}/healthz")
            posted = await session.post(
                f"{server.url}/v1/events/falco",
                data=BODY,
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
        assert (health.status, posted.status) == (200, 202)
    finally:
        for _, writer in held:
            writer.close()


@pytest.mark.fault("unauthenticated flood")
async def test_a_flood_of_unauthenticated_posts_does_no_work(server: ServeProcess) -> None:
    """2,000 posts without the token: every one 401, nothing journaled, each counted."""
    async with aiohttp.ClientSession() as session:

        async def post() -> int:
            async with session.post(f"{server.url}/v1/events/falco", data=BODY) as answer:
                return answer.status

        statuses: list[int] = []
        for _ in range(20):
            statuses += await asyncio.gather(*(post() for _ in range(100)))
        metrics = await (await session.get(f"{server.url}/metrics")).text()
    assert set(statuses) == {401}
    assert (
        'responder_events_received_total{outcome="unauthorized",source="falco"} 2000.0' in metrics
    )
    reader = JournalReader(server.data_dir / JOURNAL_FILE)
    try:
        assert reader.events(EventQuery(limit=10)) == []
    finally:
        reader.close()
