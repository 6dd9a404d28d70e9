"""The worker: follows the journal, opens or joins incidents, and hands them to the runner.

It must never stop: whatever one event or one fault does, the next event is still read.
An event that does not read back, or that dispatch fails on again and again, is quarantined
(set aside, audited, counted, told to on-call); an event whose container the engine cannot be
asked about is deferred until it answers; a store that cannot be written is retried. Readiness
says when the worker is dead or makes no progress (`health`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from responder.errors import ResponderError
from responder.incidents import window_start
from responder.worker.dispatch import Dispatcher

if TYPE_CHECKING:
    from responder.audit import AuditLog
    from responder.engine import DockerEngine
    from responder.incidents import Dispatch, Incidents
    from responder.journal import Journal
    from responder.metrics import Metrics
    from responder.notifications.queue import Notifications
    from responder.playbooks import PlaybookSet
    from responder.settings import Settings
    from responder.worker.dispatch import Row
    from responder.worker.runner import IncidentRunner

__all__ = ["Worker"]

log = logging.getLogger(__name__)
_BATCH = 256
_IDLE_POLL = 1.0
_TRIES_PER_EVENT = 3  # a batch that keeps failing is tried one event at a time, this often each
_STORE_FAULTS = (sqlite3.OperationalError, sqlite3.DatabaseError, OSError)
"""Faults of the disk or the store, not of an event: retried for as long as they last."""


class Worker:
    """Dispatches journaled events to incidents and runs them; see the module docstring."""

    def __init__(
        self,
        *,
        settings: Settings,
        journal: Journal,
        incidents: Incidents,
        playbooks: PlaybookSet,
        runner: IncidentRunner,
        audit: AuditLog,
        engine: DockerEngine,
        notifications: Notifications,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._journal = journal
        self._incidents = incidents
        self._runner = runner
        self._notifications = notifications
        self._metrics = metrics
        self._engine = engine
        self._dispatch = Dispatcher(
            settings=settings,
            incidents=incidents,
            playbooks=playbooks,
            audit=audit,
            lookups=runner.lookups,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._cursor = 0
        self._progress = time.monotonic()
        """When the worker last dispatched something, or last found nothing to dispatch."""
        self._fault: str | None = None
        self._deferred_since: str | None = None
        self._deferred = 0
        self._next_deferred_try = 0.0
        self._deferred_wait = settings.limits.retry_backoff.total_seconds()

    async def start(self) -> None:
        """Resume unfinished incidents, then follow the journal."""
        for incident_id in await self._incidents.run(lambda store: store.running()):
            log.info("resuming incident %s", incident_id)
            self._spawn(incident_id)
        self._cursor = await self._incidents.run(lambda store: store.cursor())
        await self._count_deferred()
        self._loop_task = asyncio.create_task(self._follow(), name="worker")

    async def stop(self) -> None:
        """Stop following; let running incidents finish their current step, then cancel."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._tasks:
            _, pending = await asyncio.wait(
                self._tasks, timeout=self._settings.server.shutdown_timeout
            )
            for task in pending:
                task.cancel()  # resumed at the next start; actions are idempotent
            await asyncio.gather(*pending, return_exceptions=True)

    def container_lock(self, incident_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the lock of the incident's container: release never interleaves with steps."""
        return self._runner.container_lock(incident_id)

    async def idle(self) -> None:
        """Wait until every journaled event is dispatched and every incident has finished (tests)."""
        while True:
            cursor = await self._incidents.run(lambda store: store.cursor())
            if not await self._journal.after(cursor, 1) and not self._tasks:
                return
            await asyncio.sleep(0.05)

    async def health(self) -> dict[str, Any]:
        """For `/readyz`: not ok when the worker is dead, makes no progress, or events wait long."""
        stall = self._settings.limits.worker_stall.total_seconds()
        last = await self._journal.last_seq()
        waiting = max(0, last - self._cursor)
        quiet = time.monotonic() - self._progress
        state: dict[str, Any] = {
            "ok": True,
            "cursor": self._cursor,
            "waiting": waiting,
            "deferred": self._deferred,
        }
        task = self._loop_task
        if task is None or task.done():
            why = "stopped" if task is None or task.cancelled() else f"died: {task.exception()!r}"
            return state | {"ok": False, "error": f"the worker {why}"}
        if waiting and quiet > stall:
            fault = f" (last fault: {self._fault})" if self._fault else ""
            error = f"no progress for {quiet:.0f} s with {waiting} events waiting{fault}"
            return state | {"ok": False, "error": error}
        if (
            self._deferred
            and self._deferred_since
            and self._deferred_since < window_start(self._settings.limits.worker_stall)
        ):
            error = (
                f"{self._deferred} events wait for the Docker engine to answer their container "
                f"lookup, the oldest since {self._deferred_since}"
            )
            return state | {"ok": False, "error": error}
        return state

    # -- following the journal -------------------------------------------------------------------

    async def _follow(self) -> None:
        failures = 0  # in a row, for the back-off
        suspect = 0  # in a row, not of the store: the batch itself may be at fault
        while True:
            try:
                progressed = await self._step(suspect)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                store_fault = isinstance(exc, _STORE_FAULTS)
                suspect = 0 if store_fault else suspect + 1
                self._fault = f"{type(exc).__name__}: {exc}"[:300]
                log.warning(
                    "worker: dispatching after journal seq %d failed (%s); trying again",
                    self._cursor,
                    self._fault,
                    exc_info=not store_fault,
                )
                await asyncio.sleep(min(_IDLE_POLL * failures, 30.0))
                continue
            failures = suspect = 0
            if not progressed:
                self._progress = time.monotonic()
                self._fault = None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_IDLE_POLL):
                        await self._journal.appended.wait()

    async def _step(self, suspect: int) -> bool:
        """Dispatch what is new (and what was deferred, when due); False: nothing to do."""
        self._journal.appended.clear()
        retried = await self._retry_deferred()
        # After repeated failures, one event at a time: the one that fails is then known.
        batch = await self._journal.after(self._cursor, 1 if suspect else _BATCH)
        if not batch:
            return retried
        if suspect >= _TRIES_PER_EVENT and len(batch) == 1:
            await self._quarantine_after_failures(batch[0])
        else:
            await self._after_dispatch(await self._dispatch(batch, cursor=batch[-1][0]))
        self._cursor = batch[-1][0]
        self._progress = time.monotonic()
        self._fault = None
        return True

    async def _retry_deferred(self) -> bool:
        """Dispatch the deferred events again when due; a fault here never holds up new events."""
        if not self._deferred or time.monotonic() < self._next_deferred_try:
            return False
        try:
            rows = await self._incidents.run(lambda store: store.deferred())
            batch = await self._journal.at([row.seq for row in rows[:_BATCH]])
            await self._after_dispatch(await self._dispatch(batch, cursor=None, undefer=True))
            await self._give_up_deferred()
        except Exception as exc:
            log.warning("worker: retrying deferred events failed: %s", exc, exc_info=True)
        if self._deferred:  # the engine still does not answer: wait longer before the next try
            cap = self._settings.limits.retry_backoff_max.total_seconds()
            self._deferred_wait = min(self._deferred_wait * 2, cap)
        else:
            self._deferred_wait = self._settings.limits.retry_backoff.total_seconds()
        self._next_deferred_try = time.monotonic() + self._deferred_wait
        return True

    async def _give_up_deferred(self) -> None:
        """Quarantine events deferred past `worker_stall` while the engine answers others.

        An engine that is down keeps its events waiting (readiness says so); one that answers
        pings but never this lookup must not hold an event, and readiness, forever.
        """
        since = window_start(self._settings.limits.worker_stall)
        rows = await self._incidents.run(lambda store: store.deferred())
        stale = [row for row in rows if row.since < since]
        if not stale:
            return
        try:
            await self._engine.ping()
        except ResponderError:
            return  # down: the events wait for it
        for row in stale:
            why = (
                f"the engine answers, but not the lookup of this event's container, since "
                f"{row.since}: {row.reason}"
            )
            await self._after_dispatch(await self._dispatch.give_up(row, why))

    async def _count_deferred(self) -> None:
        rows = await self._incidents.run(lambda store: store.deferred())
        self._deferred = len(rows)
        self._deferred_since = min((row.since for row in rows), default=None)
        self._metrics.events_deferred.set(self._deferred)

    async def _after_dispatch(self, changes: Dispatch) -> None:
        for incident in changes.opened:
            log.info(
                "incident %s opened: %s on %s", incident.id, incident.playbook, incident.target
            )
            self._spawn(incident.id)
        if changes.deferred or changes.undeferred:
            await self._count_deferred()
            if changes.deferred and not changes.undeferred:
                self._next_deferred_try = time.monotonic() + self._deferred_wait
        for aside in changes.quarantined:
            self._metrics.events_quarantined.inc()
            log.error(
                "event %s (journal seq %d) quarantined: %s", aside.event_id, aside.seq, aside.why
            )
            await self._notifications.for_quarantine(aside.event_id, aside.seq, aside.why)

    async def _quarantine_after_failures(self, row: Row) -> None:
        """The one event dispatch keeps failing on is set aside, so the next ones are read."""
        seq, item = row
        why = f"dispatch failed {_TRIES_PER_EVENT} times on it: {self._fault}"
        await self._after_dispatch(await self._dispatch.quarantine(seq, item.id, why))

    def _spawn(self, incident_id: str) -> None:
        task = asyncio.create_task(self._runner.run(incident_id), name=f"incident {incident_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
