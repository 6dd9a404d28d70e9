"""The containment reference: the raw Docker SDK making a playbook's calls, on the same engine.

Each run is timed like the responder's: from the first call to each container's `pause` event on
the engine's stream, with the machine's CPU use over it.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.engine_log import FLEET_TIMEOUT_S, PAUSE_TIMEOUT_S
from harness.figures import Spread
from harness.machine import Cpu, CpuMeter

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    import docker

    from harness.containers import Box
    from harness.engine_log import EngineEvent, EngineLog


class SdkPlaybook:
    """The Docker calls of a playbook's container steps, made directly with the SDK.

    `networks` are each container's networks read before the clock, so that isolate needs no
    inspect; without them isolate inspects first, as `docker:isolate` does.
    """

    def __init__(
        self,
        client: docker.DockerClient,
        steps: Sequence[str],
        networks: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._api = client.api
        self._networks = networks
        self._left: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        calls = {
            "docker:snapshot": self.snapshot,
            "docker:isolate": self.isolate,
            "docker:pause": self.pause,
        }
        if unknown := [step for step in steps if step not in calls]:
            raise ValueError(f"no SDK calls for {unknown}")
        self._calls = [calls[step] for step in steps]

    def snapshot(self, box: Box) -> None:
        """docker:snapshot's read-only parts: top, inspect, logs, diff."""
        self._api.top(box.id)
        self._api.inspect_container(box.id)
        self._api.logs(box.id, stdout=True, stderr=True, timestamps=True, tail="all")
        self._api.diff(box.id)

    def isolate(self, box: Box) -> None:
        """docker:isolate: disconnect from every network (inspected first unless known)."""
        if self._networks is not None:
            networks = list(self._networks[box.id])
        else:
            networks = list(self._api.inspect_container(box.id)["NetworkSettings"]["Networks"])
        for network in networks:
            self._api.disconnect_container_from_network(box.id, network)
        with self._lock:
            self._left[box.id] = networks

    def pause(self, box: Box) -> None:
        """docker:pause."""
        self._api.pause(box.id)

    def contain(self, box: Box) -> None:
        """Every step's calls, in the playbook's order: one container as the playbook contains it."""
        for call in self._calls:
            call(box)

    def undo(self, box: Box) -> None:
        """Unpause it and put it back on the networks it left, for the next round (not timed)."""
        self._api.unpause(box.id)
        with self._lock:
            left = self._left.pop(box.id, [])
        for network in left:
            self._api.connect_container_to_network(box.id, network)

    def undo_all(self, boxes: Sequence[Box], threads: int) -> None:
        """Undo every container, a few at a time."""
        with ThreadPoolExecutor(threads, thread_name_prefix="sdk-undo") as pool:
            list(pool.map(self.undo, boxes))


@dataclass(frozen=True)
class Timed:
    """One timed run over a fleet: its start, each container's first pause after it, the CPU."""

    start_ns: int
    """Host clock, ns since the epoch, taken just before the first call or request."""
    pauses: dict[str, EngineEvent]
    cpu: Cpu
    """From the start until every pause was seen."""

    @property
    def spread(self) -> Spread:
        """When the containers were paused, s from the start."""
        return Spread.of(self.start_ns, [p.engine_ns for p in self.pauses.values()])


def one_by_one(
    act: Callable[[Box], None],
    boxes: Sequence[Box],
    log: EngineLog,
    meter: CpuMeter,
    timeout: float = PAUSE_TIMEOUT_S,
) -> Timed:
    """`act` on each container in turn, waiting for its pause before the next."""
    meter.start()
    start = time.time_ns()
    for box in boxes:
        act(box)
        log.wait_paused([box.id], start, timeout)
    pauses = log.wait_paused([box.id for box in boxes], start, timeout)
    return Timed(start, pauses, meter.stop())


def at_once(
    act: Callable[[Box], None],
    boxes: Sequence[Box],
    threads: int,
    log: EngineLog,
    timeout: float = FLEET_TIMEOUT_S,
) -> Timed:
    """`act` on every container from `threads` threads, all started before the clock."""
    meter = CpuMeter()
    with ThreadPoolExecutor(threads, thread_name_prefix="sdk") as pool:
        barrier = threading.Barrier(threads + 1)
        for _ in range(threads):
            pool.submit(barrier.wait, timeout)
        barrier.wait(timeout)  # every thread exists before the clock starts
        meter.start()
        start = time.time_ns()
        list(pool.map(act, boxes))
    pauses = log.wait_paused([box.id for box in boxes], start, timeout)
    return Timed(start, pauses, meter.stop())
