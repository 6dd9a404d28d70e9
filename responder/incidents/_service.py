"""The incident store as the app uses it: every call on one thread, off the event loop."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from responder.incidents._store import INCIDENTS_FILE, IncidentStore

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["Incidents"]

T = TypeVar("T")


class Incidents:
    """Owns the store and the one thread that touches it."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / INCIDENTS_FILE
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="incidents")
        self._store: IncidentStore | None = None

    async def open(self) -> None:
        """Open (and create) the store."""
        self._store = await self.call_raw(lambda: IncidentStore(self.path))

    async def close(self) -> None:
        """Close the store and stop its thread."""
        if self._store is not None:
            await self.run(lambda store: store.close())
            self._store = None
        self._executor.shutdown(wait=True)

    async def run(self, fn: Callable[[IncidentStore], T]) -> T:
        """`fn(store)` on the store's thread."""
        store = self._store
        if store is None:
            raise RuntimeError("the incident store is not open")
        return await self.call_raw(lambda: fn(store))

    async def call_raw(self, fn: Callable[[], T]) -> T:
        """`fn()` on the store's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
