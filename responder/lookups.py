"""The worker's container lookups: each reference of a batch once, and ids remembered a moment."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from responder.containers import ContainerInfo
    from responder.events import Event

__all__ = ["ContainerLookups"]

_LOOKUP_TTL = 1.0  # seconds a container found by the worker is matched on without a new inspect
_LOOKUP_CACHE_MAX = 1024  # past this many remembered containers, the stale ones are dropped


class ContainerLookups:
    """The live container of each event's reference, as matching sees it."""

    def __init__(self, lookup: Callable[[str], Awaitable[ContainerInfo | None]]) -> None:
        self._lookup = lookup
        self._seen: dict[str, tuple[float, ContainerInfo | None]] = {}
        """Containers recently looked up by id, found or not: (when, container or None)."""

    async def of(self, events: Sequence[Event]) -> dict[str, ContainerInfo | None]:
        """The container of every distinct reference of the events, as matching sees it.

        A container looked up by its id less than `_LOOKUP_TTL` ago is not inspected again:
        its labels and image cannot change, a status that old is no staler than the dispatch
        itself can be, and an id that was not found does not come back. (The runner inspects
        the container again before it acts, and every action once more.) A storm of events
        about a few containers then costs a few inspects a second, not one per event. The
        rest are looked up concurrently. Names are not remembered: a name can move to a new
        container.
        """
        now = time.monotonic()
        if len(self._seen) > _LOOKUP_CACHE_MAX:
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < _LOOKUP_TTL}
        containers: dict[str, ContainerInfo | None] = {}
        missing: list[str] = []
        ids: set[str] = set()
        for event in events:
            ref = event.target.ref if event.target else None
            if not ref or ref in containers:
                continue
            if event.target and event.target.id == ref:
                ids.add(ref)
            seen = self._seen.get(ref)
            if seen is not None and now - seen[0] < _LOOKUP_TTL:
                containers[ref] = seen[1]
            else:
                containers[ref] = None
                missing.append(ref)
        found = await asyncio.gather(*(self._lookup(ref) for ref in missing))
        looked = time.monotonic()
        for ref, container in zip(missing, found, strict=True):
            containers[ref] = container
            if (container is not None and _same_id(ref, container.id)) or (
                container is None and ref in ids
            ):
                self._seen[ref] = (looked, container)
        return containers


def _same_id(ref: str, container_id: str) -> bool:
    """The reference is the container's id (12 digits, or more of the same)."""
    return ref.startswith(container_id) or container_id.startswith(ref)
