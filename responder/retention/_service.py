"""The background pruner: one thread, a pass every `interval`, resting between small batches.

Each batch is its own short transaction on its own connection, so intake's group commits
interleave with pruning instead of waiting for it; nothing here runs on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from typing import TYPE_CHECKING

from responder.retention._journal import journal_over_budget
from responder.retention._pass import prune_all, publish

if TYPE_CHECKING:
    from pathlib import Path

    from responder.audit import AuditLog
    from responder.metrics import Metrics
    from responder.retention._report import StoreReport
    from responder.retention._settings import RetentionSettings

__all__ = ["Pruner"]

log = logging.getLogger(__name__)

_CHECK_S = 5.0
"""Between passes, how often the journal's size is looked at: a pass starts early over budget."""


class Pruner:
    """Prunes the data directory in the background while the service runs."""

    def __init__(
        self,
        data_dir: Path,
        settings: RetentionSettings,
        *,
        audit: AuditLog,
        metrics: Metrics,
    ) -> None:
        self._data_dir = data_dir
        self._settings = settings
        self._audit = audit
        self._metrics = metrics
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._passed = threading.Condition()
        self.passes = 0
        """Passes finished so far."""

    def start(self) -> None:
        """Start the thread: a first pass now, then one every `interval`."""
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop after the batch under way; returns once the thread is gone."""
        self._stop.set()
        with self._passed:
            self._passed.notify_all()  # nobody waits for a pass that will not come
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def run_once(self) -> list[StoreReport]:
        """One whole pass now, in the calling thread; published like a background one."""
        started = time.monotonic()
        reports = prune_all(self._data_dir, self._settings, rest=self._rest)
        publish(reports, audit=self._audit, metrics=self._metrics, took=time.monotonic() - started)
        with self._passed:
            self.passes += 1
            self._passed.notify_all()
        return reports

    async def wait_passes(self, count: int) -> None:
        """Return once `count` passes have finished (tests and benchmarks wait on it)."""

        def wait() -> None:
            with self._passed:
                self._passed.wait_for(lambda: self.passes >= count or self._stop.is_set())

        await asyncio.to_thread(wait)

    def _rest(self) -> bool:
        """Between two batches: let intake's commits through; False once asked to stop."""
        return not self._stop.wait(self._settings.pause.total_seconds())

    def _due(self, next_pass: float) -> bool:
        """Time for the next pass, or the journal is over its budget already."""
        if time.monotonic() >= next_pass:
            return True
        try:
            return journal_over_budget(self._data_dir, self._settings.journal)
        except sqlite3.Error:
            return False  # the pass itself will say what is wrong

    def _run(self) -> None:
        interval = self._settings.interval.total_seconds()
        next_pass = 0.0
        while not self._stop.is_set():
            if self._due(next_pass):
                started = time.monotonic()
                try:
                    self.run_once()
                except Exception:  # a fault costs this pass, never the service
                    log.exception("retention: a pruning pass failed")
                next_pass = started + interval
            self._stop.wait(min(interval, _CHECK_S))
