"""The outbox against a real far end: order per channel, retries, restarts, giving up."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from _messages import message
from _receiver import Receiver

from responder.audit import AuditLog
from responder.metrics import Metrics
from responder.notifications.channels import WebhookChannel, build_notifiers
from responder.notifications.outbox import Deliverer, NewMessage, Outbox, OutboxStore
from responder.settings import NotificationSettings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

FAST = NotificationSettings(
    retry_backoff=timedelta(milliseconds=20),
    retry_backoff_max=timedelta(milliseconds=100),
    poll_interval=timedelta(milliseconds=50),
)

# The defaults (2 s doubling up to 5 min, given up after 24 h) a thousand times faster: one
# second here is about 17 minutes there. An outage "of minutes" without waiting minutes.
SCALED = NotificationSettings(
    retry_backoff=timedelta(milliseconds=2),
    retry_backoff_max=timedelta(milliseconds=300),
    give_up_after=timedelta(seconds=86.4),
    poll_interval=timedelta(milliseconds=50),
)


def queued(incident: str, channel: str, n: int) -> NewMessage:
    """Message `n` of an incident for a channel."""
    return NewMessage(
        f"{incident}:{n}:{channel}", incident, channel, "webhook", message(incident, title=f"#{n}")
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A far end that is down until the test starts it."""
    far = Receiver()
    yield far
    await far.stop()


class Harness:
    """An outbox, its deliverer and the audit log in one data directory; restartable."""

    def __init__(
        self, data_dir: Path, channels: dict[str, Any], settings: NotificationSettings
    ) -> None:
        self.data_dir = data_dir
        self.channels = channels
        self.settings = settings
        self.metrics = Metrics()
        self.outbox = Outbox(data_dir)
        self.audit = AuditLog(data_dir / "audit.jsonl")
        self.deliverer: Deliverer | None = None

    async def start(self) -> None:
        """Open everything and start delivering."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(self.data_dir)
        await self.audit.open()
        await self.outbox.open()
        self.deliverer = Deliverer(
            outbox=self.outbox,
            notifiers=build_notifiers(self.channels),
            settings=self.settings,
            metrics=self.metrics,
            audit=self.audit,
        )
        await self.deliverer.start()

    async def stop(self) -> None:
        """Stop delivering and close everything, as a shutdown does."""
        if self.deliverer is not None:
            await self.deliverer.stop()
            self.deliverer = None
            await self.outbox.close()
            await self.audit.close()
            self.audit = AuditLog(self.data_dir / "audit.jsonl")

    def rows(self) -> list[Any]:
        """Every outbox row, read from the file."""
        store = OutboxStore(self.data_dir / "outbox.sqlite3")
        try:
            rows: list[Any] = []
            for incident in sorted(
                {r[0] for r in store._conn.execute("SELECT incident_id FROM outbox")}
            ):
                rows.extend(store.for_incident(incident))
            return sorted(rows, key=lambda r: r.id)
        finally:
            store.close()

    def audit_kinds(self) -> list[str]:
        """The kinds of every audit line so far."""
        text = (self.data_dir / "audit.jsonl").read_text(encoding="utf-8")
        return [line.split('"kind":"', 1)[1].split('"', 1)[0] for line in text.splitlines()]

    def counted(self, channel: str, outcome: str) -> float:
        """A value of the notifications counter."""
        value = self.metrics.registry.get_sample_value(
            "responder_notifications_total", {"channel": channel, "outcome": outcome}
        )
        return value or 0.0


@pytest.fixture
async def harness(tmp_path: Path, receiver: Receiver) -> AsyncIterator[Callable[..., Harness]]:
    """A factory of harnesses with one webhook channel `hook` pointing at the receiver."""
    made: list[Harness] = []

    def make(settings: NotificationSettings = FAST, **channels: Any) -> Harness:
        made.append(
            Harness(
                tmp_path / "data", channels or {"hook": WebhookChannel(url=receiver.url)}, settings
            )
        )
        return made[-1]

    yield make
    for each in made:
        await each.stop()


async def wait_until(check: Callable[[], bool]) -> None:
    """Poll a condition for up to 10 s (what the test waits for, not a timing assertion)."""
    deadline = time.monotonic() + 10
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_a_key_is_queued_once(tmp_path: Path) -> None:
    """Queuing the same key again (a notify step resumed after a crash) returns the same row."""
    store = OutboxStore(tmp_path / "outbox.sqlite3")
    first = store.enqueue([queued("I1", "hook", 1)])
    again = store.enqueue([queued("I1", "hook", 1), queued("I1", "hook", 2)])
    assert again[0] == first[0]
    assert again[1] != first[0]
    assert len(store.for_incident("I1")) == 2
    store.close()


async def test_the_head_is_the_oldest_pending_message_of_its_channel(tmp_path: Path) -> None:
    """Messages leave a channel in the order they were queued; other channels are separate."""
    store = OutboxStore(tmp_path / "outbox.sqlite3")
    ids = store.enqueue([queued("I1", "a", 1), queued("I2", "b", 1), queued("I1", "a", 2)])
    head = store.head("a")
    assert head is not None
    assert head.id == ids[0]
    store.sent(ids[0], 1, "HTTP 200")
    head = store.head("a")
    assert head is not None
    assert head.id == ids[2]
    store.close()


async def test_stats_count_pending_failing_and_given_up(tmp_path: Path) -> None:
    """Per channel: what waits, what waits after a failure, what was given up, the last error."""
    store = OutboxStore(tmp_path / "outbox.sqlite3")
    ids = store.enqueue([queued("I1", "a", 1), queued("I1", "a", 2), queued("I1", "a", 3)])
    store.retry(ids[0], 1, "connection refused", time.time() + 60)
    store.failed(ids[1], 1, "HTTP 400: invalid_payload")
    stats = store.stats()["a"]
    assert (stats["pending"], stats["failing"], stats["failed"]) == (2, 1, 1)
    assert stats["last_error"] == "HTTP 400: invalid_payload"
    store.close()


@pytest.mark.fault("notification channel down, then back")
async def test_a_channel_down_then_up_gets_every_message_once_in_order(
    harness: Callable[..., Harness], receiver: Receiver
) -> None:
    """While the far end refuses connections messages wait; when it is back each goes once, in order."""
    h = harness()
    await h.start()
    await h.outbox.enqueue(
        [queued("I1", "hook", 1), queued("I2", "hook", 1), queued("I1", "hook", 2)]
    )
    await wait_until(lambda: h.counted("hook", "retry") >= 2)
    assert receiver.received == []
    await receiver.start()
    got = await receiver.wait_for(3)
    titles = [r.json()["message"]["title"] for r in got]
    incidents = [r.json()["message"]["incident_id"] for r in got]
    assert titles == ["#1", "#1", "#2"]
    assert incidents == ["I1", "I2", "I1"]
    await wait_until(lambda: all(r.state == "sent" for r in h.rows()))
    await asyncio.sleep(0.2)  # a repeat, if there were one, would arrive now
    assert len(receiver.received) == 3
    assert {"notification.retry", "notification.sent"} <= set(h.audit_kinds())


@pytest.mark.fault("notification channel down for minutes")
async def test_a_channel_down_for_minutes_backs_off_to_the_cap_then_delivers_each_once(
    harness: Callable[..., Harness], receiver: Receiver
) -> None:
    """An outage of half an hour, scaled: the backoff doubles up to its cap and stays there.

    Nothing is given up; messages queued during the outage wait behind the head; once the
    channel is back each message goes once, in order. The outage is measured in retries.
    """
    h = harness(SCALED)
    await h.start()
    await h.outbox.enqueue([queued("I1", "hook", 1)])
    await wait_until(lambda: h.counted("hook", "retry") >= 3)
    await h.outbox.enqueue([queued("I2", "hook", 1)])
    await wait_until(lambda: h.counted("hook", "retry") >= 12)  # at the cap for a few rounds
    await h.outbox.enqueue([queued("I1", "hook", 2)])
    assert receiver.received == []
    assert [r.state for r in h.rows()] == ["pending"] * 3
    await receiver.start()
    got = await receiver.wait_for(3)
    assert [(r.json()["message"]["incident_id"], r.json()["message"]["title"]) for r in got] == [
        ("I1", "#1"),
        ("I2", "#1"),
        ("I1", "#2"),
    ]
    await wait_until(lambda: all(r.state == "sent" for r in h.rows()))
    await asyncio.sleep(0.2)  # a repeat, if there were one, would arrive now
    assert len(receiver.received) == 3
    assert h.counted("hook", "failed") == 0
    audit = (h.data_dir / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    waits = [
        line["next_in_s"] for line in map(json.loads, audit) if line["kind"] == "notification.retry"
    ]
    doubling = [0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256]
    assert waits[: len(doubling)] == doubling
    assert set(waits[len(doubling) :]) == {0.3}, waits


@pytest.mark.fault("notification channel down across a restart")
async def test_messages_survive_a_restart_and_go_out_once(
    harness: Callable[..., Harness], receiver: Receiver
) -> None:
    """Queued while the far end is down, the server restarts, the far end comes back: one delivery each."""
    h = harness()
    await h.start()
    await h.outbox.enqueue([queued("I1", "hook", 1), queued("I1", "hook", 2)])
    await wait_until(lambda: h.counted("hook", "retry") >= 1)
    await h.stop()
    await receiver.start()
    await h.start()
    got = await receiver.wait_for(2)
    assert [r.json()["message"]["title"] for r in got] == ["#1", "#2"]
    await wait_until(lambda: all(r.state == "sent" for r in h.rows()))
    assert [r.attempts >= 1 for r in h.rows()] == [True, True]
    await asyncio.sleep(0.2)
    assert len(receiver.received) == 2


async def test_a_permanent_error_is_recorded_and_the_next_message_goes(
    harness: Callable[..., Harness], receiver: Receiver
) -> None:
    """HTTP 400 is not retried: the message is failed with the answer, and the queue moves on."""
    receiver.status = 400
    await receiver.start()
    h = harness()
    await h.start()
    await h.outbox.enqueue([queued("I1", "hook", 1), queued("I1", "hook", 2)])
    await wait_until(lambda: [r.state for r in h.rows()] == ["failed", "failed"])
    rows = h.rows()
    assert rows[0].attempts == 1
    assert "400" in (rows[0].last_error or "")
    assert h.counted("hook", "failed") == 2
    assert "notification.failed" in h.audit_kinds()


async def test_retry_after_from_the_far_end_is_honoured(
    harness: Callable[..., Harness], receiver: Receiver
) -> None:
    """A 429 with `Retry-After: 30` schedules the next attempt 30 s later, not at the backoff."""
    receiver.status = 429
    receiver.headers = {"Retry-After": "30"}
    await receiver.start()
    h = harness()
    await h.start()
    before = time.time()
    await h.outbox.enqueue([queued("I1", "hook", 1)])
    await wait_until(lambda: h.rows()[0].attempts == 1)
    assert h.rows()[0].next_attempt_at >= before + 29


async def test_a_message_still_failing_after_give_up_after_is_given_up(
    harness: Callable[..., Harness],
) -> None:
    """Past `give_up_after`, a transient failure is final: failed, counted, audited."""
    h = harness(FAST.model_copy(update={"give_up_after": timedelta(milliseconds=200)}))
    await h.start()
    await h.outbox.enqueue([queued("I1", "hook", 1)])
    await wait_until(lambda: h.rows()[0].state == "failed")
    assert "gave up after" in (h.rows()[0].last_error or "")


@pytest.mark.fault("notification channel down, another up")
async def test_a_channel_that_is_down_does_not_hold_up_another(
    harness: Callable[..., Harness], receiver: Receiver
) -> None:
    """Each channel has its own sender: `down` retrying never delays `up`."""
    await receiver.start()
    dead = Receiver()
    h = harness(up=WebhookChannel(url=receiver.url), down=WebhookChannel(url=dead.url))
    await h.start()
    await h.outbox.enqueue([queued("I1", "down", 1), queued("I1", "up", 1)])
    await receiver.wait_for(1)
    await wait_until(lambda: h.rows()[1].state == "sent")
    assert h.rows()[0].state == "pending"
    assert h.rows()[0].attempts >= 1


async def test_messages_for_a_channel_no_longer_configured_are_failed_at_start(
    harness: Callable[..., Harness], tmp_path: Path
) -> None:
    """A channel removed from the configuration cannot deliver: its messages say so."""
    (tmp_path / "data").mkdir()
    store = OutboxStore(tmp_path / "data" / "outbox.sqlite3")
    store.enqueue([queued("I1", "gone", 1)])
    store.close()
    h = harness()
    await h.start()
    row = h.rows()[0]
    assert row.state == "failed"
    assert "no longer configured" in (row.last_error or "")
