"""The machine and a process: CPU time, memory, and the facts every report starts with."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import docker

from harness import REPO
from harness.servers import responder_env

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class Cpu:
    """CPU time used over an interval, by the whole machine and by the server process."""

    elapsed_s: float
    machine_s: float
    """Busy CPU-seconds of every CPU (user, system, interrupts, steal), from /proc/stat."""
    server_s: float | None
    """User and system CPU-seconds of the server process (every thread)."""

    @property
    def busy(self) -> float:
        """The machine's CPUs busy over the interval, as a fraction of all of them."""
        cpus = os.cpu_count() or 1
        return self.machine_s / (self.elapsed_s * cpus) if self.elapsed_s > 0 else 0.0


def machine_busy_s() -> float:
    """Busy CPU-seconds of every CPU since boot (/proc/stat: all but idle and iowait)."""
    try:
        first = Path("/proc/stat").read_text(encoding="utf-8").splitlines()[0].split()
    except OSError:
        return 0.0
    ticks = [int(v) for v in first[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int | None) -> float | None:
    """User and system CPU-seconds of a process (/proc/PID/stat), or None."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_memory_kb(pid: int, key: str = "VmHWM") -> int | None:
    """A line of /proc/PID/status in kB (VmHWM: peak resident set size; VmRSS: now), or None."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return None


class CpuMeter:
    """CPU time between `start` and `stop`, of the machine and of one process (when given)."""

    def __init__(self, pid: int | None = None) -> None:
        self._pid = pid
        self._t0 = 0.0
        self._machine = 0.0
        self._server: float | None = None

    def start(self) -> None:
        """Read the counters."""
        self._server = process_cpu_s(self._pid)
        self._machine = machine_busy_s()
        self._t0 = time.monotonic()

    def stop(self) -> Cpu:
        """What was used since `start`."""
        elapsed = time.monotonic() - self._t0
        machine = machine_busy_s() - self._machine
        server = process_cpu_s(self._pid)
        used = server - self._server if server is not None and self._server is not None else None
        return Cpu(elapsed, machine, used)


# -- the facts of a report -------------------------------------------------------------------


def tool_version(command: list[str]) -> str:
    """The first line a tool prints about itself, or '?'."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "?"


def _output(command: list[str], cwd: str | Path, env: Mapping[str, str] | None = None) -> str:
    """What a command prints, stripped; '?' when it fails."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=30, check=True, cwd=cwd, env=env
        )
    except (OSError, subprocess.SubprocessError):
        return "?"
    return done.stdout.strip()


def responder_source() -> str:
    """Where the server processes import responder from (PYTHONPATH can point at another tree)."""
    code = "import responder, os; print(os.path.dirname(responder.__file__))"
    where = _output([sys.executable, "-c", code], tempfile.gettempdir(), responder_env())
    return where or "?"


def git_commit() -> str:
    """`git rev-parse --short HEAD`, with `+changes` when the tree differs from it."""
    head = _output(["git", "rev-parse", "--short", "HEAD"], REPO)
    dirty = _output(["git", "status", "--porcelain", "--untracked-files=no"], REPO)
    if "?" in (head, dirty):
        return "?"
    return f"{head}+changes" if dirty else head


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine() -> str:
    """CPUs, model, architecture and memory, in one line."""
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    return f"{os.cpu_count()} CPUs, {cpu_model()}, {platform.machine()}{memory}"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1/5/15 min, before)"


def environment(extra: Mapping[str, str]) -> dict[str, str]:
    """Machine and software facts for the report, with the benchmark's own (`extra`)."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "machine": machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "libraries": f"docker SDK {docker.__version__}, aiohttp {aiohttp.__version__}",
        **extra,
        "responder": responder_source(),
        "load avg": load_average(),
    }
