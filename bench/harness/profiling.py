"""`py-spy record` of a server while a block runs: `--profile FILE` on every benchmark."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness import BenchError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator, Sequence

PY_SPY_HINT = "--profile needs py-spy: .venv/bin/pip install py-spy"


@dataclass(frozen=True)
class Profile:
    """Where and how to record a py-spy profile of the server."""

    out: Path
    format: str
    gil: bool


def add_profile_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """`--profile FILE`, `--profile-format`, `--profile-gil`; `what` says which run is profiled."""
    parser.add_argument("--profile", type=Path, metavar="FILE", help=f"{what}, into FILE")
    parser.add_argument(
        "--profile-format",
        choices=["speedscope", "raw", "flamegraph"],
        default="speedscope",
        help="py-spy output format (speedscope)",
    )
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="sample only the thread holding the GIL (py-spy --gil): where Python CPU time goes",
    )


def profile_from(args: argparse.Namespace) -> Profile | None:
    """The profile the command line asks for, or None."""
    if args.profile is None:
        return None
    return Profile(Path(args.profile), str(args.profile_format), bool(args.profile_gil))


def find_py_spy() -> str | None:
    """py-spy on PATH, or next to this Python (the venv's bin)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


@contextlib.contextmanager
def py_spy(
    pid: int, profile: Profile | None, *, rate: int = 500, prefix: Sequence[str] = ()
) -> Iterator[None]:
    """`py-spy record` of a process (every thread) while the block runs, when asked for.

    py-spy attaches before the block starts and writes its output when the block ends (on
    SIGINT). `prefix` runs it under another command (taskset).
    """
    if profile is None:
        yield
        return
    spy_path = find_py_spy()
    if spy_path is None:
        raise BenchError(PY_SPY_HINT)
    command = [
        *prefix,
        spy_path,
        "record",
        f"--pid={pid}",
        f"--rate={rate}",
        "--threads",
        *(["--gil"] if profile.gil else []),
        f"--format={profile.format}",
        f"--output={profile.out}",
    ]
    with tempfile.TemporaryFile() as spy_log:
        spy = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=spy_log, stderr=spy_log)
        failed = False
        try:
            time.sleep(1.0)  # attached before the work starts
            if spy.poll() is not None:
                failed = True
            else:
                yield
        finally:
            if spy.poll() is None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
                try:
                    spy.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    spy.kill()
                    spy.wait(timeout=10)
        if failed or spy.returncode not in (0, -signal.SIGINT):
            spy_log.seek(0)
            tail = spy_log.read()[-500:].decode(errors="replace")
            raise BenchError(f"py-spy exited with {spy.returncode}: {tail}")
