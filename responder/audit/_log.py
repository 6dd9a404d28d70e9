"""The audit writer: one thread appends chained lines to the file, one write and fsync per batch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from responder.audit._chain import RESERVED
from responder.audit._fields import AuditValue, snapshot
from responder.audit._file import Anchor, ChainFile, Entry, now
from responder.audit._rotate import utc_now
from responder.audit._segments import AUDIT_FILE

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from pathlib import Path

    from responder.audit._settings import AuditSettings


__all__ = ["AUDIT_FILE", "Anchor", "AuditLog"]

log = logging.getLogger(__name__)

_MAX_QUEUED = 100_000  # records waiting for the writer; past this they are dropped and counted
_MAX_BATCH = 5_000  # items per write, so a backlog after a stall is not one enormous write


@dataclass(frozen=True, slots=True)
class _Flush:
    """Resolved on its own loop once every item queued before it has been written (or failed)."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]

    def resolve(self) -> None:
        """From the writer thread: wake the waiter."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self.loop.call_soon_threadsafe(_set_done, self.future)


class _Stop:
    """Queued by close(): the writer exits after the batch holding it."""


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():  # a cancelled flush
        future.set_result(None)


class AuditLog:
    """The append-only, hash-chained record of every decision, written by one daemon thread.

    `record()` only queues; the thread writes everything queued in one `write()` and one fsync
    under an exclusive `flock`, so other processes (`responder release`) can append to the same
    file and the chain stays one chain. A failure to write never reaches the caller: the records
    are counted as lost, `on_error` is called (from the thread that saw the failure; keep it
    quick and thread-safe), and the next line that can be written is an `audit.lost` record
    saying how many were lost and why. Records queued when the process dies are lost.

    With `settings`, the active file is sealed into segments (by size, or by UTC day on
    `clock`) and old segments pruned; without, it is one file that only grows.
    """

    def __init__(
        self,
        path: Path,
        *,
        on_error: Callable[[], None] | None = None,
        anchor: Anchor | None = None,
        on_head: Callable[[int, str], None] | None = None,
        settings: AuditSettings | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.path = path
        self._on_error = on_error
        self._queue: queue.SimpleQueue[Entry | _Flush | _Stop] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()  # the counters below are touched from both sides
        self._errors = 0
        self._lost = 0  # records not written since the last good batch
        self._lost_reason = ""
        self._failing = False  # log the first failure of a streak, not every batch of it
        self._clock = clock or utc_now
        self._file = ChainFile(
            path,
            anchor=anchor,
            on_head=on_head,
            on_error=self._anchor_failed,
            settings=settings,
            clock=self._clock,
        )

    @property
    def head(self) -> tuple[int, str]:
        """The seq and hash of the last line written or found (0 and 64 zeros: none yet)."""
        return self._file.head

    @property
    def errors(self) -> int:
        """How many failures so far: batches not written, records dropped or recorded too late."""
        with self._lock:
            return self._errors

    async def open(self) -> None:
        """Create the file if needed, cut off a torn last line, and start the writer thread."""
        if self._thread is not None or self._closed:
            raise RuntimeError("an audit log opens once")
        await asyncio.to_thread(self._start)
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def record(self, kind: str, /, **fields: AuditValue) -> None:
        """Queue one line; never blocks, never fails for the disk's sake (see the class doc)."""
        reserved = RESERVED.intersection(fields)
        if reserved:
            raise ValueError(f"reserved audit field names: {', '.join(sorted(reserved))}")
        entry = Entry(self._clock().isoformat(timespec="microseconds"), kind, snapshot(fields))
        if self._closed:
            self._fail(1, "recorded after the audit log was closed")
        elif self._queue.qsize() >= _MAX_QUEUED:
            self._fail(1, f"more than {_MAX_QUEUED} records waiting: the disk is too slow")
        else:
            self._queue.put(entry)

    async def flush(self) -> None:
        """Return once every line recorded so far is written and fsynced, or counted as lost."""
        if self._thread is None:
            if self._closed:
                return
            raise RuntimeError("the audit log is not open")
        loop = asyncio.get_running_loop()
        marker = _Flush(loop, loop.create_future())
        self._queue.put(marker)
        await marker.future

    async def close(self) -> None:
        """Write what is queued and stop the thread."""
        self._closed = True
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_Stop())
            await asyncio.to_thread(thread.join)
        stragglers = 0  # queued from another thread as close began, or before an open never made
        with contextlib.suppress(queue.Empty):
            while True:
                stragglers += isinstance(self._queue.get_nowait(), Entry)
        if stragglers:
            self._fail(stragglers, "recorded after the audit log was closed")

    def _start(self) -> None:
        """On a worker thread: the first batch creates the file and recovers its tail."""
        created = not self.path.exists()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._commit([])
        if created:  # make the new file's directory entry durable too
            fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _run(self) -> None:
        """The writer thread: take everything queued, write it as one batch, wake the flushers."""
        stop = False
        while not stop:
            items = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while len(items) < _MAX_BATCH:
                    items.append(self._queue.get_nowait())
            entries = [item for item in items if isinstance(item, Entry)]
            if entries:
                try:
                    self._commit(entries)
                except Exception as exc:  # noqa: BLE001 - whatever it was, count it and carry on
                    self._fail(len(entries), str(exc) or type(exc).__name__)
            for item in items:
                if isinstance(item, _Flush):
                    item.resolve()
                stop = stop or isinstance(item, _Stop)

    def _commit(self, entries: list[Entry]) -> None:
        """Write the entries (after an `audit.lost` notice, if records were lost) as one batch."""
        with self._lock:
            lost, reason = self._lost, self._lost_reason
        if lost:
            entries = [Entry(now(), "audit.lost", {"records": lost, "reason": reason}), *entries]
        self._file.write(entries)
        with self._lock:
            self._lost -= lost
            recovered_from_failure, self._failing = self._failing, False
        if recovered_from_failure:
            log.warning("audit log %s is being written again", self.path)

    def _anchor_failed(self) -> None:
        with self._lock:
            self._errors += 1
        if self._on_error is not None:
            self._on_error()

    def _fail(self, records: int, reason: str) -> None:
        """Count a failure and call the hook; log only the first of a streak."""
        with self._lock:
            self._errors += 1
            self._lost += records
            self._lost_reason = reason
            first, self._failing = not self._failing, True
        if first:
            log.error("audit log %s: records not written (%d): %s", self.path, records, reason)
        if self._on_error is not None:
            self._on_error()
