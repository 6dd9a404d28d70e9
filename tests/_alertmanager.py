"""The real Alertmanager (and Prometheus, its sibling) as processes for the live tests.

Both are Debian packages (`prometheus-alertmanager`, `prometheus`): `require_binary` skips
without them on a laptop and fails in CI. Each peer logs to a file, so that a failing test can
show what the peer saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from _peers import free_port, require_binary

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

__all__ = ["Peer", "post_alerts", "run_alertmanager", "run_peer"]

READY_TIMEOUT = 30.0


@dataclass(frozen=True)
class Peer:
    """A running peer: its base URL and its log file."""

    name: str
    url: str
    log: Path

    def logs(self) -> str:
        """Everything the peer wrote so far, headed by its name."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError as exc:
            text = f"(no log: {exc})"
        return f"----- {self.name} ({self.log}) -----\n{text}"


@contextlib.asynccontextmanager
async def run_peer(name: str, argv: list[str], url: str, log: Path) -> AsyncIterator[Peer]:
    """Start `argv`, wait until `url/-/ready` answers 200 (bounded), stop it on the way out."""
    peer = Peer(name, url, log)
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(*argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        await _wait_ready(peer, process)
        yield peer
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _wait_ready(peer: Peer, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                pytest.fail(f"{peer.name} exited with {process.returncode}:\n{peer.logs()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{peer.url}/-/ready") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    pytest.fail(f"{peer.name} was not ready within {READY_TIMEOUT:.0f} s:\n{peer.logs()}")


@contextlib.asynccontextmanager
async def run_alertmanager(config: Path, workdir: Path) -> AsyncIterator[Peer]:
    """The real Alertmanager on `config`, alone (no cluster), on a free loopback port."""
    binary = require_binary(
        "prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager"
    )
    port = free_port()
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.path={workdir / 'alertmanager-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    async with run_peer(
        "alertmanager", argv, f"http://127.0.0.1:{port}", workdir / "alertmanager.log"
    ) as peer:
        yield peer


async def post_alerts(url: str, alerts: list[dict[str, Any]]) -> None:
    """`POST /api/v2/alerts`, as Prometheus (or amtool) sends them."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/api/v2/alerts", json=alerts) as response,
    ):
        assert response.status == 200, await response.text()
