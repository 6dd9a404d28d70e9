"""The worker's container lookups: each reference of a batch once, and ids remembered a moment."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from responder.engine import is_full_id, reference
from responder.errors import ResponderError
from responder.worker.attempts import retry_policy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from responder.engine import ContainerInfo, DockerEngine
    from responder.incidents import IncidentRecord
    from responder.journal import Event, Target
    from responder.settings import Limits

__all__ = ["ContainerLookups", "Lookup", "live_container"]

_LOOKUP_TTL = 1.0  # seconds a container found by the worker is matched on without a new inspect
_LOOKUP_CACHE_MAX = 1024  # past this many remembered containers, the stale ones are dropped


@dataclass(frozen=True, slots=True)
class Lookup:
    """What the engine said about one reference: the container, none, or no answer at all."""

    container: ContainerInfo | None
    fault: str | None = None
    """The engine did not answer: whether the container exists is not known."""


class ContainerLookups:
    """The live container of each event's reference, as matching sees it."""

    def __init__(self, engine: DockerEngine) -> None:
        self._engine = engine
        self._seen: dict[Target, tuple[float, ContainerInfo | None]] = {}
        """References by id recently resolved, found or not: (when, container or None)."""
        self._found: dict[str, tuple[float, ContainerInfo]] = {}
        """Containers recently found, by their full id: what the runner starts from."""

    async def of(self, targets: Sequence[Target]) -> dict[Target, Lookup]:
        """The container each distinct reference names, by the one rule (`answers_to`).

        A reference by id resolved less than `_LOOKUP_TTL` ago is not resolved again: the
        container's labels and image cannot change, a status that old is no staler than the
        dispatch itself can be, and an id that was not found does not come back. (The runner
        inspects by the full id a container found longer ago than that, and every action acts
        by the full id, which nothing else can answer to.) A
        storm of events about a few containers then costs a few inspects a second, not one per
        event. Names are not remembered: a name can move to a new container. An engine that
        does not answer is a `fault`, never "not found". Each container found is kept by its
        full id for `recent`.
        """
        now = time.monotonic()
        if len(self._seen) > _LOOKUP_CACHE_MAX:
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < _LOOKUP_TTL}
        if len(self._found) > _LOOKUP_CACHE_MAX:
            self._found = {k: v for k, v in self._found.items() if now - v[0] < _LOOKUP_TTL}
        found: dict[Target, Lookup] = {}
        missing: list[Target] = []
        for target in dict.fromkeys(targets):
            seen = self._seen.get(target)
            if seen is not None and now - seen[0] < _LOOKUP_TTL:
                found[target] = Lookup(seen[1])
            else:
                missing.append(target)
        answers = await asyncio.gather(*(self._resolve(t) for t in missing))
        looked = time.monotonic()
        for target, lookup in zip(missing, answers, strict=True):
            found[target] = lookup
            if lookup.fault is None and reference(target)[1] == "id":
                self._seen[target] = (looked, lookup.container)
            if lookup.container is not None:
                self._found[lookup.container.id] = (looked, lookup.container)
        return found

    def recent(self, full_id: str) -> ContainerInfo | None:
        """The container with this full id as a lookup found it less than `_LOOKUP_TTL` ago.

        Its id, image and labels cannot have changed since; every action acts by that id, and
        one that finds the container gone says so. The runner starts an incident the dispatch
        just opened from it, not from one more inspect.
        """
        seen = self._found.get(full_id)
        if seen is None or time.monotonic() - seen[0] >= _LOOKUP_TTL:
            return None
        return seen[1]

    async def _resolve(self, target: Target) -> Lookup:
        try:
            return Lookup(await self._engine.resolve(target))
        except ResponderError as exc:
            return Lookup(None, f"the Docker engine does not answer: {exc}")


async def live_container(
    engine: DockerEngine,
    record: IncidentRecord,
    event: Event,
    limits: Limits,
    recent: ContainerLookups | None = None,
) -> Lookup:
    """The incident's container as its steps start: none when it is gone, a fault when unknown.

    The container found at dispatch is taken as `recent` found it, when that was a moment ago
    (an incident the dispatch just opened), else inspected by its full id, which nothing else
    can answer to; an incident opened without one resolves the alert's reference by the one
    rule (`answers_to`). An engine that does not answer is a transient fault, retried like a
    step, never mistaken for a missing container.
    """
    full_id = record.container_id if is_full_id(record.container_id or "") else None
    target = event.target if full_id is None else None
    if full_id is None and target is None:
        return Lookup(None)
    if full_id is not None and recent is not None and (found := recent.recent(full_id)):
        return Lookup(found)
    try:
        async for attempt in retry_policy(limits):
            with attempt:
                if full_id is not None:
                    return Lookup(await engine.container(full_id))
                assert target is not None  # noqa: S101 - checked above
                return Lookup(await engine.resolve(target))
    except ResponderError as exc:
        return Lookup(None, f"the Docker engine does not answer: {exc}")
    return Lookup(None)  # pragma: no cover - tenacity returns or reraises
