"""The outbox as the app uses it: queue from the event loop, deliver from one task per channel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from responder.errors import ConfigError, PermanentError, TransientError
from responder.incidents.storethread import StoreThread
from responder.notifications.channels import Delivery, DeliveryDeferredError
from responder.notifications.outbox._store import OUTBOX_FILE, OutboxStore, due_in

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence
    from pathlib import Path

    from responder.audit import AuditLog
    from responder.metrics import Metrics
    from responder.notifications.channels import Notifier
    from responder.notifications.outbox._model import OutboxRecord
    from responder.notifications.outbox._settings import NotificationSettings
    from responder.notifications.outbox._store import NewMessage

__all__ = ["Deliverer", "Outbox"]

log = logging.getLogger(__name__)
_ERROR_CHARS = 500
_BACKSTOP_S = 5.0  # past the channel timeout, an attempt is cut off whatever the notifier does


class Outbox(StoreThread[OutboxStore]):
    """Owns the outbox store and its thread; wakes the deliverer when something is queued."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / OUTBOX_FILE
        super().__init__(lambda: OutboxStore(self.path), "outbox")
        self.queued = asyncio.Event()
        """Set when this process queues a message; the deliverer also polls for other processes."""

    async def enqueue(self, messages: Sequence[NewMessage]) -> list[int]:
        """Queue durably (committed before this returns), then wake the deliverer."""
        ids = await self.run(lambda store: store.enqueue(messages))
        self.queued.set()
        return ids


class Deliverer:
    """One task per channel sends its messages oldest first; a failing channel only waits itself.

    A message that fails for a transient reason stays at the head of its channel and is retried
    with exponential backoff, so the channel's messages (and so each incident's) go out in order;
    a permanent failure, or one still failing after `give_up_after`, is recorded as failed and
    the next message goes. Delivery is at least once: a crash between the far end's answer and
    the commit sends that message again, with the same delivery key.
    """

    def __init__(
        self,
        *,
        outbox: Outbox,
        notifiers: Mapping[str, Notifier[Any]],
        settings: NotificationSettings,
        metrics: Metrics,
        audit: AuditLog,
    ) -> None:
        self._outbox = outbox
        self._notifiers = notifiers
        self._settings = settings
        self._metrics = metrics
        self._audit = audit
        self._wakes = {name: asyncio.Event() for name in notifiers}
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._settled: Callable[[str], Awaitable[None]] | None = None

    def on_settled(self, callback: Callable[[str], Awaitable[None]]) -> None:
        """Call `callback(incident_id)` once a message of the incident is sent or given up."""
        self._settled = callback

    async def start(self) -> None:
        """Fail messages for channels that are gone, then start one sender per channel."""
        self._session = aiohttp.ClientSession()
        for record in await self._outbox.run(lambda s: s.abandon_channels(set(self._notifiers))):
            self._failed(
                record, record.attempts, f"channel {record.channel!r} is no longer configured"
            )
        await self.refresh_metrics()
        self._tasks = [
            asyncio.create_task(self._sender(name), name=f"outbox {name}")
            for name in self._notifiers
        ]
        self._tasks.append(asyncio.create_task(self._relay(), name="outbox wake-up"))

    async def stop(self) -> None:
        """Stop sending; what is pending stays queued for the next start."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def refresh_metrics(self) -> None:
        """Set the pending and failing gauges from the store."""
        stats = await self._outbox.run(lambda s: s.stats())
        for name in self._notifiers:
            found = stats.get(name)
            self._metrics.outbox_pending.labels(name).set(found["pending"] if found else 0)
            self._metrics.outbox_failing.labels(name).set(found["failing"] if found else 0)

    async def _relay(self) -> None:
        """Wake every sender when this process queues, and every `poll_interval` regardless."""
        poll = self._settings.poll_interval.total_seconds()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll):
                    await self._outbox.queued.wait()
            self._outbox.queued.clear()
            for wake in self._wakes.values():
                wake.set()

    async def _sender(self, name: str) -> None:
        wake = self._wakes[name]
        while True:
            wake.clear()
            try:
                record = await self._outbox.run(lambda s: s.head(name))
            except Exception:  # a store fault: wait and look again, nothing is lost
                log.exception("outbox: cannot read the queue of channel %s", name)
                record = None
            if record is None:
                await wake.wait()
                continue
            delay = due_in(record)
            if delay > 0:
                # The head is backing off: everything behind it waits too, which keeps order.
                await asyncio.sleep(delay)
                continue
            settled = await self._deliver(self._notifiers[name], record)
            await self.refresh_metrics()
            if settled and self._settled is not None:
                await self._settled(record.incident_id)

    async def _deliver(self, notifier: Notifier[Any], record: OutboxRecord) -> bool:
        """One attempt; True when the message is settled (sent or given up), False to retry."""
        assert self._session is not None  # noqa: S101 - started before any sender
        attempt = record.attempts + 1
        timeout = notifier.channel.timeout.total_seconds()
        try:
            # Each notifier holds itself to the channel timeout (aiohttp's total, the mail's
            # deadline), so that it stops talking when it gives up; this is the backstop.
            async with asyncio.timeout(timeout + _BACKSTOP_S):
                detail = await notifier.send(
                    record.message, Delivery(record.id, attempt, record.incident_id), self._session
                )
        except (TransientError, TimeoutError, ConfigError) as exc:
            # ConfigError: a secret that could be read at start-up cannot be now, as while a
            # mounted secret is rotated; it is retried until give_up_after like an outage.
            reason = str(exc) or f"no answer within {timeout:g} s"
            return await self._retry_or_give_up(record, attempt, reason, _retry_after(exc))
        except PermanentError as exc:
            error = str(exc)
            await self._give_up(record, attempt, error)
            return True
        except Exception as exc:  # a fault of ours: retrying the same message will not help
            log.exception("outbox: channel %s failed on message %d", record.channel, record.id)
            error = f"internal error: {type(exc).__name__}: {exc}"
            await self._give_up(record, attempt, error)
            return True
        await self._outbox.run(lambda s: s.sent(record.id, attempt, detail))
        self._metrics.notifications.labels(record.channel, "sent").inc()
        self._audit.record(
            "notification.sent",
            incident=record.incident_id,
            channel=record.channel,
            outbox_id=record.id,
            attempt=attempt,
            detail=detail,
        )
        return True

    async def _retry_or_give_up(
        self, record: OutboxRecord, attempt: int, error: str, retry_after: float | None
    ) -> bool:
        """Schedule the next attempt, or give up past `give_up_after`; True when given up."""
        age = time.time() - datetime.fromisoformat(record.created_at).timestamp()
        if age >= self._settings.give_up_after.total_seconds():
            error = f"gave up after {attempt} attempts: {error}"
            await self._give_up(record, attempt, error)
            return True
        backoff = self._settings.retry_backoff.total_seconds() * 2 ** (attempt - 1)
        wait = min(backoff, self._settings.retry_backoff_max.total_seconds())
        if retry_after is not None:
            # The far end said when; honour it, but never past the point of giving up.
            left = self._settings.give_up_after.total_seconds() - age
            wait = max(min(max(wait, retry_after), left), 0.0)
        at = time.time() + wait
        await self._outbox.run(lambda s: s.retry(record.id, attempt, _short(error), at))
        self._metrics.notifications.labels(record.channel, "retry").inc()
        self._audit.record(
            "notification.retry",
            incident=record.incident_id,
            channel=record.channel,
            outbox_id=record.id,
            attempt=attempt,
            error=_short(error),
            next_in_s=round(wait, 3),
        )
        log.warning(
            "outbox: %s message %d attempt %d failed (%s); next in %.1f s",
            record.channel,
            record.id,
            attempt,
            error,
            wait,
        )
        return False

    async def _give_up(self, record: OutboxRecord, attempt: int, error: str) -> None:
        """Record the message as failed in the store, then count, audit and log it."""
        await self._outbox.run(lambda s: s.failed(record.id, attempt, _short(error)))
        self._failed(record, attempt, error)

    def _failed(self, record: OutboxRecord, attempts: int, error: str) -> None:
        self._metrics.notifications.labels(record.channel, "failed").inc()
        self._audit.record(
            "notification.failed",
            incident=record.incident_id,
            channel=record.channel,
            outbox_id=record.id,
            attempts=attempts,
            error=_short(error),
        )
        log.error(
            "outbox: gave up on %s message %d for incident %s: %s",
            record.channel,
            record.id,
            record.incident_id,
            error,
        )


def _retry_after(exc: BaseException) -> float | None:
    return exc.retry_after if isinstance(exc, DeliveryDeferredError) else None


def _short(text: str) -> str:
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 1] + "…"
