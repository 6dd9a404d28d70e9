"""The engine's event stream: every pause, unpause, connect and disconnect of the run's containers.

The clock of every containment figure: an event's `timeNano` is the engine's own time, which is
this host's clock, as are the send times (`time.time_ns()`) and the responder's timestamps. The
stream is read in a thread, so no polling interval enters the figures; `seen_ns` says when the
event was read, to report how late the stream delivered it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness import BenchError

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

    import docker

ACTIONS = ("pause", "unpause", "connect", "disconnect")
PAUSE_TIMEOUT_S = 30.0
"""How long one container's pause may take to show, from its request."""
FLEET_TIMEOUT_S = 120.0
"""How long a fleet's pauses may take to show, from the first request."""


@dataclass(frozen=True)
class EngineEvent:
    """One pause, unpause, network connect or disconnect of a container, on the engine's clock."""

    action: str
    container: str
    engine_ns: int
    seen_ns: int
    """When this process read it from the stream."""
    network: str | None = None


def engine_event(raw: Mapping[str, Any], seen_ns: int) -> EngineEvent | None:
    """The event in one decoded message of the stream, or None when it is not one of ACTIONS."""
    action = str(raw.get("Action") or raw.get("status") or "")
    if action not in ACTIONS:
        return None
    actor = raw.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    engine_ns = int(raw.get("timeNano") or int(raw.get("time", 0)) * 1_000_000_000)
    if raw.get("Type") == "network":
        container = attributes.get("container")
        if not container:
            return None
        network = str(attributes.get("name") or "?")
        return EngineEvent(action, str(container), engine_ns, seen_ns, network)
    return EngineEvent(action, str(raw.get("id") or actor.get("ID")), engine_ns, seen_ns)


class EngineLog:
    """Every event of ACTIONS of the containers `owns` accepts, read in a thread."""

    def __init__(self, client: docker.DockerClient, owns: Callable[[str], bool]) -> None:
        # Network events carry the container in their attributes, not its labels: filter by
        # type and action here, by container below.
        filters = {"type": ["container", "network"], "event": list(ACTIONS)}
        self._stream = client.events(decode=True, filters=filters)
        self._owns = owns
        self._events: list[EngineEvent] = []
        self._cond = threading.Condition()
        self._ended: str | None = None
        self._thread = threading.Thread(target=self._read, name="engine-events", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        why = "the stream ended"
        try:
            for raw in self._stream:
                event = engine_event(raw, time.time_ns())
                if event is None or not self._owns(event.container):
                    continue
                with self._cond:
                    self._events.append(event)
                    self._cond.notify_all()
        except Exception as exc:  # noqa: BLE001 - any end of the stream is reported to the waiter
            why = f"the stream failed: {exc}"
        with self._cond:
            self._ended = why
            self._cond.notify_all()

    def since(self, since_ns: int, ids: Collection[str] | None = None) -> list[EngineEvent]:
        """The events at or after `since_ns` (of these containers), in the order read."""
        wanted = None if ids is None else set(ids)
        with self._cond:
            return [
                e
                for e in self._events
                if e.engine_ns >= since_ns and (wanted is None or e.container in wanted)
            ]

    def wait_paused(
        self, ids: Collection[str], since_ns: int, timeout: float
    ) -> dict[str, EngineEvent]:
        """The first pause of each container at or after `since_ns`; BenchError after `timeout`."""
        deadline = time.monotonic() + timeout
        wanted = set(ids)
        with self._cond:
            while True:
                first: dict[str, EngineEvent] = {}
                for e in self._events:
                    if e.action == "pause" and e.engine_ns >= since_ns and e.container in wanted:
                        first.setdefault(e.container, e)
                missing = [i for i in ids if i not in first]
                if not missing:
                    return first
                if self._ended is not None:
                    raise BenchError(f"Docker event stream: {self._ended}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(
                        f"{len(missing)} of {len(ids)} containers not seen paused within "
                        f"{timeout:g} s (first: {missing[0][:12]})"
                    )
                self._cond.wait(min(left, 1.0))

    def close(self) -> None:
        """Stop reading."""
        self._stream.close()
        self._thread.join(timeout=5)
