"""The journal as the app uses it: grouped durable appends, and reads off the event loop."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from responder.errors import ConfigError
from responder.journal._reader import EventQuery, EventRow, JournalReader, Unreadable
from responder.journal._writer import Accepted, JournalWriter

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from responder.journal._event import Event
    from responder.metrics import Metrics

__all__ = ["JOURNAL_FILE", "Journal"]

JOURNAL_FILE = "journal.sqlite3"
_RECENT = 4096
"""Events appended by this process and not yet read by the worker, kept to hand over as they are."""


class Journal:
    """One writer thread for every append, one reader thread for every query."""

    def __init__(self, data_dir: Path, metrics: Metrics) -> None:
        self.path = data_dir / JOURNAL_FILE
        self._data_dir = data_dir
        self._writer = JournalWriter(self.path, metrics)
        self._reader = JournalReader(self.path)
        self._reads = ThreadPoolExecutor(1, thread_name_prefix="journal-reader")
        self.appended = asyncio.Event()
        """Set after every append; the worker clears it and reads what is new."""
        self._recent: dict[str, Event] = {}
        """The events this process journaled, by id, until the worker reads them (`after`): it
        gets the very objects intake validated instead of parsing their stored JSON again.
        Changed on the event loop only; the reader thread only looks up."""

    async def open(self) -> None:
        """Create the data directory and the file; a journal that cannot be opened stops start-up."""
        try:
            await asyncio.to_thread(self._data_dir.mkdir, parents=True, exist_ok=True)
            await asyncio.to_thread(self._writer.open)
        except Exception as exc:
            raise ConfigError(f"cannot open the journal at {self.path}: {exc}") from exc

    async def close(self) -> None:
        """Write what is queued, then close both connections."""
        await self._writer.close()
        await asyncio.get_running_loop().run_in_executor(self._reads, self._reader.close)
        self._reads.shutdown(wait=True)

    async def append(self, events: Sequence[Event]) -> list[Accepted]:
        """Durably journal the events; raises JournalUnavailableError if that cannot be done."""
        accepted = await self._writer.append(events)
        for event, outcome in zip(events, accepted, strict=True):
            if not outcome.duplicate:
                self._recent[event.id] = event
        while len(self._recent) > _RECENT:  # nobody reads them (no worker): the oldest go
            del self._recent[next(iter(self._recent))]
        self.appended.set()
        return accepted

    async def check_writable(self) -> None:
        """Prove a write goes through, the same way events do."""
        await self._writer.heartbeat()

    async def events(self, query: EventQuery) -> list[EventRow]:
        """Rows for the events view, newest first."""
        return await asyncio.get_running_loop().run_in_executor(
            self._reads, self._reader.events, query
        )

    async def after(self, seq: int, limit: int = 256) -> list[tuple[int, Event | Unreadable]]:
        """Events after `seq`, oldest first; a body that does not read back is `Unreadable`."""
        rows = await asyncio.get_running_loop().run_in_executor(
            self._reads, self._reader.after, seq, limit, self._recent
        )
        self._handed_over(rows)
        return rows

    def _handed_over(self, rows: Sequence[tuple[int, Event | Unreadable]]) -> None:
        """Forget the events now read, and those journaled before them (read already).

        `_recent` is in journal order: appends are settled in the order they were committed.
        """
        last = rows[-1][1].id if rows else None
        if last not in self._recent:
            for _, item in rows:
                self._recent.pop(item.id, None)
            return
        while self._recent:
            oldest = next(iter(self._recent))
            del self._recent[oldest]
            if oldest == last:
                return

    async def at(self, seqs: list[int]) -> list[tuple[int, Event | Unreadable]]:
        """The events with these sequence numbers, oldest first."""
        if not seqs:
            return []
        return await asyncio.get_running_loop().run_in_executor(self._reads, self._reader.at, seqs)

    async def last_seq(self) -> int:
        """The newest event's sequence number (0: none yet)."""
        return await asyncio.get_running_loop().run_in_executor(self._reads, self._reader.last_seq)

    async def stored(self, event_id: str) -> tuple[str, Event | Unreadable] | None:
        """One event's body as stored, and what it reads back as."""
        return await asyncio.get_running_loop().run_in_executor(
            self._reads, self._reader.stored, event_id
        )

    async def event(self, event_id: str) -> Event | None:
        """One event in full."""
        return await asyncio.get_running_loop().run_in_executor(
            self._reads, self._reader.event, event_id
        )
