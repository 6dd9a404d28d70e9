"""Requests in flight, counted so that shutdown can wait for them to finish, bodies included."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

__all__ = ["InFlight"]


class InFlight:
    """A counter of running handlers and an event that is set whenever none runs."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def count(self) -> int:
        """Handlers running now."""
        return self._count

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count the request from the moment its headers are in until its answer is written."""
        self._count += 1
        self._idle.clear()
        try:
            return await handler(request)
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:  # noqa: ASYNC109 - a grace period, not an I/O deadline
        """Wait until no request is in flight; False if `timeout` passed first."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True
