"""A steady-rate client: POST each body at its slot of a steady rate, on keep-alive connections.

Unlike wrk (a closed loop: each connection sends its next request when the answer arrives), it
keeps the schedule whatever the server does, as alerts arrive in a storm: a request whose
connections are all busy leaves late, and `max_late_ms` says how late. Every connection is open
before the clock starts. Times are on the host clock (ns since the epoch).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from harness import HOST, INTAKE_PATH
from harness.api import JSON_HEADERS
from harness.figures import percentile
from harness.machine import process_cpu_s

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

CLIENT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Load:
    """What the client saw: one entry per request, times on the host clock (ns since epoch)."""

    first_sent_ns: int
    last_sent_ns: int
    last_answered_ns: int
    statuses: dict[str, int]
    """Status code (or `error: ...`) -> count."""
    latencies_ms: list[float] = field(repr=False)
    sent_s: list[float] = field(repr=False)
    """When each request was sent, s after the first."""
    max_late_ms: float
    """How far behind its slot the most delayed request was sent (all connections busy)."""
    client_cpu_s: float
    """CPU time this process (the client) used to send them."""

    def by_second(self) -> list[tuple[int, float, float, float]]:
        """(second, p50, p99, max) of the requests sent in each second of the storm, ms."""
        seconds: dict[int, list[float]] = {}
        for at, ms in zip(self.sent_s, self.latencies_ms, strict=True):
            seconds.setdefault(int(at), []).append(ms)
        return [
            (second, percentile(v, 50), percentile(v, 99), max(v))
            for second, v in sorted(seconds.items())
        ]

    @property
    def acknowledged(self) -> int:
        """2xx answers."""
        return sum(n for s, n in self.statuses.items() if s.startswith("2"))

    @property
    def failed(self) -> int:
        """Anything but a 2xx."""
        return sum(n for s, n in self.statuses.items() if not s.startswith("2"))

    def latency(self) -> dict[str, float]:
        """p50, p99 and max, ms."""
        return {
            "p50": percentile(self.latencies_ms, 50),
            "p99": percentile(self.latencies_ms, 99),
            "max": max(self.latencies_ms),
        }

    def summary(self) -> dict[str, Any]:
        """For the JSON output, without the per-request latencies."""
        return (
            {k: v for k, v in asdict(self).items() if k not in {"latencies_ms", "sent_s"}}
            | self.latency()
            | {"by_second": self.by_second()}
            | {"acknowledged": self.acknowledged, "failed": self.failed}
        )


async def _send(
    port: int, bodies: Sequence[bytes], seconds: float, connections: int
) -> tuple[list[int], list[int], list[str], float]:
    """POST every body at its slot of a steady rate; (sent ns, answered ns, statuses, lateness)."""
    url = f"http://{HOST}:{port}{INTAKE_PATH}"
    count = len(bodies)
    interval = seconds / count
    sent = [0] * count
    answered = [0] * count
    statuses = [""] * count
    late = [0.0]
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def probe() -> None:
            async with session.get(f"http://{HOST}:{port}/healthz") as response:
                await response.read()

        # Open every connection before the clock starts.
        await asyncio.gather(*(probe() for _ in range(connections)), return_exceptions=True)
        slots: Iterator[int] = iter(range(count))
        start = time.monotonic() + 0.05

        async def worker() -> None:
            for i in slots:  # one iterator shared by every worker: each takes the next slot
                delay = start + i * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    late[0] = max(late[0], -delay)
                sent[i] = time.time_ns()
                try:
                    async with session.post(url, data=bodies[i], headers=JSON_HEADERS) as response:
                        await response.read()
                        statuses[i] = str(response.status)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    statuses[i] = f"error: {type(exc).__name__}"
                answered[i] = time.time_ns()

        await asyncio.gather(*(worker() for _ in range(connections)))
    return sent, answered, statuses, late[0] * 1000


def send_paced(port: int, bodies: Sequence[bytes], seconds: float, connections: int) -> Load:
    """POST every body to 127.0.0.1:port at a steady rate over `seconds` and `connections`."""
    before = process_cpu_s(os.getpid()) or 0.0
    sent, answered, statuses, late_ms = asyncio.run(_send(port, bodies, seconds, connections))
    client_cpu = (process_cpu_s(os.getpid()) or 0.0) - before
    first = min(sent)
    return Load(
        first_sent_ns=first,
        last_sent_ns=max(sent),
        last_answered_ns=max(answered),
        statuses=dict(Counter(statuses)),
        latencies_ms=[(a - s) / 1e6 for s, a in zip(sent, answered, strict=True)],
        sent_s=[(s - first) / 1e9 for s in sent],
        max_late_ms=late_ms,
        client_cpu_s=client_cpu,
    )
