"""A SQLite store used from the event loop: every call runs on the store's one thread."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["StoreThread"]

T = TypeVar("T")


class _Closable(Protocol):
    def close(self) -> None: ...


S = TypeVar("S", bound=_Closable)


class StoreThread(Generic[S]):
    """Owns a store and the one thread that touches it (a SQLite connection is not shared)."""

    def __init__(self, factory: Callable[[], S], name: str) -> None:
        self._factory = factory
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._store: S | None = None

    async def open(self) -> None:
        """Open (and create) the store."""
        self._store = await self.call_raw(self._factory)

    async def close(self) -> None:
        """Close the store and stop its thread."""
        if self._store is not None:
            await self.run(lambda store: store.close())
            self._store = None
        self._executor.shutdown(wait=True)

    async def run(self, fn: Callable[[S], T]) -> T:
        """`fn(store)` on the store's thread."""
        store = self._store
        if store is None:
            raise RuntimeError("the store is not open")
        return await self.call_raw(lambda: fn(store))

    async def call_raw(self, fn: Callable[[], T]) -> T:
        """`fn()` on the store's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
