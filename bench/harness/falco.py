"""Falco events as Falco's `http_output` sends them: a shell spawned in one of the run's containers."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.containers import Box


def shell_event(rule: str, box: Box, seq: int, at: float, run_id: str) -> bytes:
    """One Falco event naming the container by its 12-digit id and its name, as Falco does.

    Unique for each `seq` (time, pid, tty and output line) and `run_id`, so that the
    responder's body-hash deduplication never fires; `at` is its time (s since the epoch).
    """
    stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds")
    stamp = stamp.replace("+00:00", f"{seq % 1000:03d}Z")  # nanoseconds, as Falco writes
    pid = 4000 + seq
    tty = 34816 + seq % 64
    output = (
        f"{stamp}: Notice A shell was spawned in a container with an attached terminal "
        f"(evt_type=execve user=root user_uid=0 user_loginuid=-1 process=sh "
        f"proc_exepath=/bin/sh parent=runc command=sh -i terminal={tty} pid={pid} "
        f"exe_flags=EXE_WRITABLE container_id={box.short_id} container_name={box.name})"
    )
    body = {
        "hostname": platform.node(),
        "output": output,
        "priority": "Notice",
        "rule": rule,
        "source": "syscall",
        "tags": ["maturity_stable", "container", "shell", "mitre_execution", "T1059"],
        "time": stamp,
        "output_fields": {
            "container.id": box.short_id,
            "container.name": box.name,
            "container.image.repository": "responder-test/busybox",
            "evt.arg.flags": "EXE_WRITABLE",
            "evt.time": int(at * 1e9),
            "evt.type": "execve",
            "proc.cmdline": "sh -i",
            "proc.exepath": "/bin/sh",
            "proc.name": "sh",
            "proc.pid": pid,
            "proc.pname": "runc",
            "proc.tty": tty,
            "user.loginuid": -1,
            "user.name": "root",
            "user.uid": 0,
            "bench.run": run_id,
        },
    }
    return json.dumps(body).encode()
