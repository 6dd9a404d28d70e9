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

    from responder.journal._event import Event
    from responder.metrics import Metrics

__all__ = ["Accepted", "JournalWriter"]

log = logging.getLogger(__name__)

_INSERT = """
INSERT INTO events
    (id, key, source, name, priority, status, hostname, container_id, container_name,
     time, received_at, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO NOTHING
"""
_STORED = "SELECT key, id FROM events WHERE key IN ({})"
_HEARTBEAT = "INSERT OR REPLACE INTO meta (key, value) VALUES ('heartbeat', ?)"
_KEYS_PER_QUERY = 500  # well under SQLite's limit on bound parameters


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


def _settle(outcomes: list[tuple[_Job, list[Accepted] | BaseException]]) -> None:
    """On the event loop: resolve every request of one commit."""
    for job, result in outcomes:
        if job.future.done():  # the waiting request was cancelled; the commit stands regardless
            continue
        if isinstance(result, BaseException):
            job.future.set_exception(result)
        else:
            job.future.set_result(result)


def _settle_all(batch: list[_Job], results: list[list[Accepted]] | BaseException) -> None:
    """From the writer thread: one wake-up per loop for the whole batch, not one per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, list[Accepted] | BaseException]]] = {}
    for index, job in enumerate(batch):
        outcome = results if isinstance(results, BaseException) else results[index]
        by_loop.setdefault(job.loop, []).append((job, outcome))
    for loop, outcomes in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(_settle, outcomes)


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
        self._queue: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        # Appends made in one turn of the event loop reach the writer as one queue item:
        # one cross-thread wake-up for all of them instead of one each.
        self._pending: list[_Job] = []

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
        self._flush()
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    async def _submit(self, events: Sequence[Event] | None) -> list[Accepted]:
        if self._thread is None:
            raise JournalUnavailableError("the journal is closed")
        loop = asyncio.get_running_loop()
        job = _Job(events, loop)
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append(job)
        return await job.future

    def _flush(self) -> None:
        if self._pending:
            jobs, self._pending = self._pending, []
            self._queue.put(jobs)

    def _run(self) -> None:
        assert self._conn is not None  # noqa: S101 - open() sets it before starting the thread
        try:
            while (jobs := self._queue.get()) is not None:
                batch = list(jobs)
                stopping = False
                while len(batch) < self._max_batch:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stopping = True
                        break
                    batch.extend(more)
                self._commit(self._conn, batch)
                if stopping:
                    break
        finally:
            self._conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        started = time.perf_counter()
        try:
            conn.execute("BEGIN IMMEDIATE")
            results = self._apply_batch(conn, batch)
            conn.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - any fault fails this batch, never the thread
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            self._metrics.journal_errors.inc()
            log.error("journal commit of %d requests failed: %s", len(batch), exc)  # noqa: TRY400 - the cause is the message
            _settle_all(batch, JournalUnavailableError(f"the journal cannot be written: {exc}"))
            return
        self._metrics.journal_commit_seconds.observe(time.perf_counter() - started)
        self._metrics.journal_batch_size.observe(len(batch))
        _settle_all(batch, results)

    @staticmethod
    def _apply_batch(conn: sqlite3.Connection, batch: list[_Job]) -> list[list[Accepted]]:
        """Insert every event of the batch at once, then read back which id each key holds."""
        events = [event for job in batch for event in job.events or ()]
        if any(job.events is None for job in batch):
            conn.execute(_HEARTBEAT, (time.time(),))
        stored: dict[str, str] = {}
        if events:
            conn.executemany(_INSERT, [_row(event) for event in events])
            keys = list({event.key for event in events})
            for start in range(0, len(keys), _KEYS_PER_QUERY):
                chunk = keys[start : start + _KEYS_PER_QUERY]
                query = _STORED.format(",".join("?" * len(chunk)))
                stored.update(conn.execute(query, chunk).fetchall())
        return [
            [
                Accepted(stored[e.key], e.key, duplicate=stored[e.key] != e.id)
                for e in job.events or ()
            ]
            for job in batch
        ]
