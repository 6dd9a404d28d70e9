"""The servers the benchmarks start: `responder serve`, the bare and the durable aiohttp handlers.

The bare handler (`bench/bare_server.py`) is the intake ceiling: the least an aiohttp endpoint
can do with the same request. The durable one (`bench/durable_server.py`) is the intake
reference: the least a receiver can do that answers only once the event is fsynced. They run as
processes on 127.0.0.1 in a working directory of the caller's, which outlives them, so that a
journal or an audit trail can be read after the stop.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness import BENCH_DIR, INTAKE_PATH, REPO
from harness.processes import Server, free_port, server, status_ready

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

BARE_SERVER = BENCH_DIR / "bare_server.py"
DURABLE_SERVER = BENCH_DIR / "durable_server.py"
SHIPPED_PLAYBOOKS = REPO / "playbooks"
JOURNAL_FILE = "journal.sqlite3"
AUDIT_FILE = "audit.jsonl"
PROBE_BODY = b'{"rule":"bench readiness probe","priority":"Debug"}'


@dataclass(frozen=True)
class Limits:
    """The `limits` section of the server's config file."""

    max_containments: int
    """Per `window`: raised so that the default (5 per 10 minutes) holds no benchmark incident."""
    concurrency: int
    window: str = "1h"


def responder_env() -> dict[str, str]:
    """The environment without RESPONDER_* settings, so only the flags configure the server."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RESPONDER_")}


def write_config(workdir: Path, limits: Limits) -> Path:
    """The server's config file in `workdir`: only its limits."""
    config = workdir / "responder.yaml"
    config.write_text(
        "limits:\n"
        f"  max_containments: {limits.max_containments}\n"
        f"  window: {limits.window}\n"
        f"  concurrency: {limits.concurrency}\n",
        encoding="utf-8",
    )
    return config


@contextlib.contextmanager
def serve_responder(
    workdir: Path,
    playbooks: Path = SHIPPED_PLAYBOOKS,
    *,
    limits: Limits | None = None,
    ready_path: str = "/readyz",
    prefix: Sequence[str] = (),
) -> Iterator[Server]:
    """`responder serve` on loopback with a fresh data directory in `workdir`, until the block ends.

    No token (loopback only), the environment's RESPONDER_* removed, a config file only for
    `limits`; ready when `GET ready_path` answers 2xx (/readyz: journal, Docker and playbooks).
    `prefix` runs it under another command (taskset).
    """
    port = free_port()
    (workdir / "data").mkdir()
    config = ["--config", str(write_config(workdir, limits))] if limits else []
    command = [*prefix, sys.executable, "-m", "responder", "serve", *config]
    command += ["--port", str(port), "--data-dir", str(workdir / "data")]
    command += ["--playbooks", str(playbooks)]
    ready = status_ready(port, "GET", ready_path)
    with server("responder", port, command, workdir, ready=ready, env=responder_env()) as running:
        yield running


@contextlib.contextmanager
def serve_bare(workdir: Path, prefix: Sequence[str] = ()) -> Iterator[Server]:
    """`bench/bare_server.py` on loopback until the block ends; ready when a POST is answered."""
    port = free_port()
    command = [*prefix, sys.executable, str(BARE_SERVER), "--port", str(port)]
    ready = status_ready(port, "POST", INTAKE_PATH, PROBE_BODY)
    with server("bare", port, command, workdir, ready=ready) as running:
        yield running


@contextlib.contextmanager
def serve_durable(workdir: Path, prefix: Sequence[str] = ()) -> Iterator[Server]:
    """`bench/durable_server.py` writing `workdir/events.sqlite3`; ready when a POST is answered."""
    port = free_port()
    db = workdir / "events.sqlite3"
    command = [*prefix, sys.executable, str(DURABLE_SERVER), "--port", str(port), "--db", str(db)]
    ready = status_ready(port, "POST", INTAKE_PATH, PROBE_BODY)
    with server("durable", port, command, workdir, ready=ready) as running:
        yield running


def count_events(path: Path, timeout: float = 5.0) -> int:
    """`SELECT count(*) FROM events` in an SQLite file, read-only (its server may still run)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
    try:
        (count,) = conn.execute("SELECT count(*) FROM events").fetchone()
    finally:
        conn.close()
    return int(count)


def journal_rows(data_dir: Path) -> int:
    """The events in the stopped server's journal."""
    return count_events(data_dir / JOURNAL_FILE)


def reference_rows(workdir: Path) -> int:
    """The events in the stopped durable reference's file."""
    return count_events(workdir / "events.sqlite3")
