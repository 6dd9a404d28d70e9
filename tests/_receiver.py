"""A real HTTP server standing in for a webhook's far end: it records requests and can go down."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from _peers import free_port
from aiohttp import web


@dataclass
class Received:
    """One request as the far end saw it."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


@dataclass
class Receiver:
    """Listens on a fixed port so that it can stop (connection refused) and come back."""

    port: int = field(default_factory=free_port)
    status: int = 200
    """What it answers while up."""
    headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.status < 300:
            self.received.append(Received(request.path, dict(request.headers), body))
            self.arrived.set()
        return web.Response(status=self.status, text="ok", headers=self.headers)

    async def start(self) -> None:
        """Come up (again) on the same port."""
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        """Go down: connections are refused until `start`."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, count: int) -> list[Received]:
        """Until `count` requests have arrived (at most 20 s, then TimeoutError)."""
        async with asyncio.timeout(20):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received
