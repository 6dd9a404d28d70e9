"""The journal writer: one thread that groups concurrent appends into one fsynced commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING

from responder.errors import JournalUnavailableError
from responder.journal._schema import connect

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from responder.events import Event
    from responder.metrics import Metrics

__all__ = ["Accepted", "JournalWriter"]

log = logging.getLogger(__name__)

_INSERT = """
INSERT OR IGNORE INTO events
    (id, key, source, name, priority, status, hostname, container_id, container_name,
     time, received_at, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_EXISTING = "SELECT id FROM events WHERE key = ?"
_HEARTBEAT = "INSERT OR REPLACE INTO meta (key, value) VALUES ('heartbeat', ?)"


@dataclass(frozen=True, slots=True)
class Accepted:
    """An event that is on disk: its journal id, and whether an earlier send had put it there."""

    id: str
    key: str
    duplicate: bool


@dataclass(slots=True)
class _Job:
    events: Sequence[Event] | None  # None: a heartbeat write, to prove the journal is writable
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[Accepted]] = field(init=False)

    def __post_init__(self) -> None:
        self.future = self.loop.create_future()

    def settle(self, result: list[Accepted] | BaseException) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            self.loop.call_soon_threadsafe(_settle, self.future, result)


def _settle(future: asyncio.Future[list[Accepted]], result: list[Accepted] | BaseException) -> None:
    if future.done():  # the waiting request was cancelled; the commit stands regardless
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


def _row(event: Event) -> tuple[object, ...]:
    target = event.target
    return (
        event.id,
        event.key,
        event.source,
        event.name,
        int(event.priority),
        event.status,
        event.hostname,
        target.id if target else None,
        target.name if target else None,
        event.time.astimezone(UTC).isoformat(),
        event.received_at.astimezone(UTC).isoformat(),
        event.model_dump_json(),
    )


class JournalWriter:
    """Owns the only writing connection; appends wait until their group commit is fsynced."""

    def __init__(self, path: Path, metrics: Metrics, *, max_batch: int = 512) -> None:
        self._path = path
        self._metrics = metrics
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None

    def open(self) -> None:
        """Open the file and start the writer thread; raises if the journal cannot be created."""
        self._conn = connect(self._path)
        self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)
        self._thread.start()

    async def append(self, events: Sequence[Event]) -> list[Accepted]:
        """Journal the events in one commit with others; returns once they are on disk."""
        return await self._submit(events)

    async def heartbeat(self) -> None:
        """Write one small row through the same path as events: proves the journal is writable."""
        await self._submit(None)

    async def close(self) -> None:
        """Finish every queued append, then stop the thread and close the file."""
        if self._thread is None:
            return
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    async def _submit(self, events: Sequence[Event] | None) -> list[Accepted]:
        if self._thread is None:
            raise JournalUnavailableError("the journal is closed")
        job = _Job(events, asyncio.get_running_loop())
        self._queue.put(job)
        return await job.future

    def _run(self) -> None:
        assert self._conn is not None  # noqa: S101 - open() sets it before starting the thread
        try:
            while (job := self._queue.get()) is not None:
                batch = [job]
                stopping = False
                while len(batch) < self._max_batch:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stopping = True
                        break
                    batch.append(more)
                self._commit(self._conn, batch)
                if stopping:
                    break
        finally:
            self._conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        started = time.perf_counter()
        try:
            conn.execute("BEGIN IMMEDIATE")
            results = [self._apply(conn, job) for job in batch]
            conn.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - any fault fails this batch, never the thread
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            self._metrics.journal_errors.inc()
            log.error("journal commit of %d requests failed: %s", len(batch), exc)  # noqa: TRY400 - the cause is the message
            error = JournalUnavailableError(f"the journal cannot be written: {exc}")
            for job in batch:
                job.settle(error)
            return
        self._metrics.journal_commit_seconds.observe(time.perf_counter() - started)
        self._metrics.journal_batch_size.observe(len(batch))
        for job, result in zip(batch, results, strict=True):
            job.settle(result)

    @staticmethod
    def _apply(conn: sqlite3.Connection, job: _Job) -> list[Accepted]:
        if job.events is None:
            conn.execute(_HEARTBEAT, (time.time(),))
            return []
        accepted = []
        for event in job.events:
            if conn.execute(_INSERT, _row(event)).rowcount == 1:
                accepted.append(Accepted(event.id, event.key, duplicate=False))
            else:
                (existing,) = conn.execute(_EXISTING, (event.key,)).fetchone()
                accepted.append(Accepted(existing, event.key, duplicate=True))
        return accepted
