"""wrk, the load generator (C, so the client is not the bottleneck), and where it runs.

The Lua script wrk runs (`bench/intake.lua`) counts the answers and, when wrk is done, prints one
line `BENCH_RESULT {json}`: duration, requests completed and sent, 2xx, 202 and other answers
by status, socket errors, and latency percentiles (from a request written to its answer read).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness import HOST, BenchError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

WRK_GRACE_S = 60.0
WRK_SOCKET_TIMEOUT = "10s"
RESULT_PREFIX = "BENCH_RESULT "

WRK_INSTALL_HINT = (
    "wrk is not installed (or not on PATH). Install it with:\n"
    "    sudo apt-get install -y wrk        # Debian/Ubuntu\n"
    "    brew install wrk                   # macOS\n"
    "or build it from https://github.com/wg/wrk, then run this again."
)


@dataclass(frozen=True)
class Placement:
    """Which CPUs the servers and the load generator may use; None means not pinned."""

    server_cpus: tuple[int, ...] | None
    client_cpus: tuple[int, ...] | None

    def server_prefix(self) -> list[str]:
        """The command prefix that pins a server, or nothing."""
        return _taskset(self.server_cpus)

    def client_prefix(self) -> list[str]:
        """The command prefix that pins wrk and py-spy, or nothing."""
        return _taskset(self.client_cpus)

    def describe(self) -> str:
        """One line for the report."""
        if self.server_cpus is None or self.client_cpus is None:
            return "not pinned: servers, wrk and the OS share every CPU"
        return (
            f"pinned with taskset: each server on CPU {_cpu_list(self.server_cpus)}, "
            f"wrk on CPU {_cpu_list(self.client_cpus)} (the same for both servers)"
        )


def _cpu_list(cpus: Sequence[int]) -> str:
    return ",".join(str(cpu) for cpu in cpus)


def _taskset(cpus: tuple[int, ...] | None) -> list[str]:
    return [] if cpus is None else ["taskset", "-c", _cpu_list(cpus)]


def placement_for(pin: bool) -> tuple[Placement, str | None]:
    """Server on the first allowed CPU, wrk on the rest; unpinned when that is impossible."""
    if not pin:
        return Placement(None, None), None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return Placement(None, None), "only one CPU available: running unpinned"
    if shutil.which("taskset") is None:
        return Placement(None, None), "taskset not found (util-linux): running unpinned"
    return Placement((cpus[0],), tuple(cpus[1:])), None


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured; latencies are from request sent to response read."""

    duration_s: float
    completed: int
    sent: int
    ok_2xx: int
    status_202: int
    non_2xx: int
    statuses: dict[str, int]
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        """Acknowledged (2xx) requests per second."""
        return self.ok_2xx / self.duration_s if self.duration_s > 0 else 0.0

    @classmethod
    def parse(cls, stdout: str) -> WrkResult:
        """Read the `BENCH_RESULT {...}` line that the Lua script prints when wrk is done."""
        for line in stdout.splitlines():
            if line.startswith(RESULT_PREFIX):
                data = json.loads(line.removeprefix(RESULT_PREFIX))
                latency = data["latency_us"]
                return cls(
                    duration_s=data["duration_us"] / 1e6,
                    completed=int(data["completed"]),
                    sent=int(data["sent"]),
                    ok_2xx=int(data["ok_2xx"]),
                    status_202=int(data["status_202"]),
                    non_2xx=int(data["non_2xx"]),
                    statuses={str(k): int(v) for k, v in data["statuses"].items()},
                    socket_errors=sum(int(v) for v in data["socket_errors"].values()),
                    p50_ms=latency["p50"] / 1000,
                    p90_ms=latency["p90"] / 1000,
                    p99_ms=latency["p99"] / 1000,
                    max_ms=latency["max"] / 1000,
                )
        raise BenchError(f"wrk printed no {RESULT_PREFIX.strip()} line:\n{stdout[-2000:]}")


@dataclass(frozen=True)
class Wrk:
    """wrk with a Lua script, pinned as `placement` says."""

    path: str
    script: Path
    threads: int
    placement: Placement

    def run(
        self, url_path: str, port: int, connections: int, seconds: int, *args: str
    ) -> WrkResult:
        """Drive 127.0.0.1:port for `seconds`; `args` go to the script; BenchError on failure."""
        command = [
            *self.placement.client_prefix(),
            self.path,
            f"--threads={min(self.threads, connections)}",
            f"--connections={connections}",
            f"--duration={seconds}s",
            f"--timeout={WRK_SOCKET_TIMEOUT}",
            f"--script={self.script}",
            f"http://{HOST}:{port}{url_path}",
            "--",
            *args,
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=seconds + WRK_GRACE_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"wrk did not finish within {seconds + WRK_GRACE_S:g} s") from None
        if done.returncode != 0:
            raise BenchError(f"wrk exited with {done.returncode}:\n{done.stderr or done.stdout}")
        return WrkResult.parse(done.stdout)
