"""The journal: group commits, durability across restarts, and refusing to acknowledge when full."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from _payloads import PAYLOADS

from responder.errors import ConfigError, JournalUnavailableError
from responder.intake.bodies import body_kind, normalise
from responder.journal import (
    JOURNAL_FILE,
    Event,
    EventQuery,
    Journal,
    Priority,
    connect,
    new_event_id,
)
from responder.metrics import Metrics
from responder.settings import TargetRules
from responder.web.state import JOURNAL

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import ClientFactory


def event(n: int, output: str = "") -> Event:
    """A small distinct event."""
    now = datetime.now(UTC)
    return Event(
        id=new_event_id(),
        key=f"test:{n}",
        source="falco",
        name=f"rule {n}",
        priority=Priority.NOTICE,
        status="firing",
        time=now,
        received_at=now,
        output=output,
    )


async def test_concurrent_appends_share_commits(tmp_path: Path) -> None:
    """Fifty appends queued behind a held write lock are written in one or two commits."""
    metrics = Metrics()
    journal = Journal(tmp_path, metrics)
    await journal.open()
    blocker = sqlite3.connect(journal.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the writer's next commit must wait for this lock
    appends = [asyncio.create_task(journal.append([event(n)])) for n in range(50)]
    await asyncio.sleep(0.2)
    blocker.execute("ROLLBACK")
    blocker.close()
    accepted = await asyncio.gather(*appends)
    await journal.close()
    assert sorted(a[0].key for a in accepted) == sorted(f"test:{n}" for n in range(50))
    [batches] = metrics.journal_batch_size.collect()
    commits = batches.samples
    count = next(s.value for s in commits if s.name.endswith("_count"))
    assert count <= 2


async def test_events_survive_a_restart(tmp_path: Path) -> None:
    """What was acknowledged before close is read back by a new journal on the same directory."""
    first = Journal(tmp_path, Metrics())
    await first.open()
    accepted = await first.append([event(1), event(2)])
    await first.close()
    second = Journal(tmp_path, Metrics())
    await second.open()
    rows = await second.events(EventQuery())
    stored = await second.event(accepted[0].id)
    await second.close()
    assert {row.id for row in rows} == {a.id for a in accepted}
    assert stored is not None
    assert stored.key == "test:1"


async def test_duplicate_key_returns_the_first_id(tmp_path: Path) -> None:
    """The same key appended twice keeps one row and answers with the original id."""
    journal = Journal(tmp_path, Metrics())
    await journal.open()
    [first] = await journal.append([event(7)])
    [again] = await journal.append([event(7)])
    await journal.close()
    assert again.duplicate
    assert again.id == first.id


@pytest.mark.fault("journal disk full")
async def test_full_journal_refuses_then_recovers(tmp_path: Path) -> None:
    """When SQLite reports the disk full, nothing is acknowledged; with room again, writes resume."""
    journal = Journal(tmp_path, Metrics())
    await journal.open()
    conn = journal._writer._conn
    assert conn is not None
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(JournalUnavailableError, match="disk is full"):
        await journal.append([event(1, output="x" * 200_000)])
    conn.execute("PRAGMA max_page_count = 1073741823")
    [accepted] = await journal.append([event(2, output="x" * 200_000)])
    rows = await journal.events(EventQuery())
    await journal.close()
    assert [row.id for row in rows] == [accepted.id]


@pytest.mark.fault("journal disk full")
async def test_full_journal_answers_503_with_retry_after(
    make_client: ClientFactory,
) -> None:
    """Intake says 503 and why, so that Alertmanager sends again later."""
    client = await make_client()
    conn = client.app[JOURNAL]._writer._conn
    assert conn is not None
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")
    body = {"rule": "r", "priority": "Error", "output": "x" * 200_000}
    response = await client.post("/v1/events/falco", json=body)
    assert response.status == 503
    assert response.headers["Retry-After"]
    answer = await response.json()
    assert "disk is full" in answer["message"]
    assert "nothing was accepted" in answer["message"]


@pytest.mark.fault("journal read-only")
async def test_readyz_reports_an_unwritable_journal(make_client: ClientFactory) -> None:
    """Readiness writes through the same path as events and names the journal when it fails."""
    client = await make_client()
    conn = client.app[JOURNAL]._writer._conn
    assert conn is not None
    conn.execute("PRAGMA query_only = ON")
    answer = await (await client.get("/readyz")).json()
    assert "journal" in answer["failing"]
    assert "readonly" in answer["checks"]["journal"]["error"]


@pytest.mark.fault("journal read-only")
async def test_read_only_journal_acknowledges_nothing_then_recovers(
    make_client: ClientFactory,
) -> None:
    """Intake answers 503 while SQLite refuses writes (`query_only`), and 202 once it takes them.

    Nothing sent meanwhile is in the journal: the sender was told to retry, not that it is kept.
    """
    client = await make_client()
    conn = client.app[JOURNAL]._writer._conn
    assert conn is not None
    conn.execute("PRAGMA query_only = ON")
    refused = await client.post("/v1/events/falco", json={"rule": "r", "priority": "Error"})
    assert refused.status == 503
    assert refused.headers["Retry-After"]
    answer = await refused.json()
    assert "readonly" in answer["message"]
    assert "nothing was accepted" in answer["message"]
    conn.execute("PRAGMA query_only = OFF")
    accepted = await client.post("/v1/events/falco", json={"rule": "r2", "priority": "Error"})
    assert accepted.status == 202
    ids = [e["id"] for e in (await accepted.json())["events"]]
    rows = await client.app[JOURNAL].events(EventQuery())
    assert [row.id for row in rows] == ids


async def test_closed_journal_refuses_appends(tmp_path: Path) -> None:
    """After close, an append is refused rather than left waiting forever."""
    journal = Journal(tmp_path, Metrics())
    await journal.open()
    await journal.close()
    with pytest.raises(JournalUnavailableError, match="closed"):
        await journal.append([event(1)])


async def test_journal_that_cannot_be_created_stops_startup(tmp_path: Path) -> None:
    """A data directory that is a file is a configuration error naming the path."""
    blocked = tmp_path / "data"
    blocked.write_text("not a directory")
    journal = Journal(blocked, Metrics())
    with pytest.raises(ConfigError, match="cannot open the journal"):
        await journal.open()


def test_journal_from_a_newer_responder_is_refused(tmp_path: Path) -> None:
    """A schema version from the future is not silently used."""
    path = tmp_path / JOURNAL_FILE
    connect(path).close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(sqlite3.DatabaseError, match="newer"):
        connect(path)


def test_journal_uses_wal_and_full_sync(tmp_path: Path) -> None:
    """WAL mode and synchronous=FULL: a commit is on disk before it is acknowledged."""
    conn = connect(tmp_path / JOURNAL_FILE)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA synchronous").fetchone() == (2,)
    conn.close()


def test_an_event_is_stored_with_its_priority_by_name() -> None:
    """The journaled JSON says `Critical`, not 5, so reports and API readers see the name."""
    now = datetime.now(UTC)
    event = Event(
        id=new_event_id(),
        key="k",
        source="falco",
        name="n",
        priority=Priority.CRITICAL,
        status="firing",
        time=now,
        received_at=now,
    )
    assert '"priority":"Critical"' in event.model_dump_json()
    assert Event.model_validate_json(event.model_dump_json()).priority is Priority.CRITICAL


def test_an_event_journaled_with_a_numeric_priority_still_loads() -> None:
    """Journals from before the change hold the number; they read back as the same level."""
    now = datetime.now(UTC).isoformat()
    body = (
        f'{{"id":"x","key":"k","source":"falco","name":"n","priority":5,'
        f'"status":"firing","time":"{now}","received_at":"{now}"}}'
    )
    assert Event.model_validate_json(body).priority is Priority.CRITICAL


async def test_the_worker_reads_an_appended_event_as_intake_built_it(tmp_path: Path) -> None:
    """`after` hands over the very event this process appended: no second parse of its JSON."""
    journal = Journal(tmp_path, Metrics())
    await journal.open()
    appended = [event(1), event(2)]
    await journal.append(appended)
    rows = await journal.after(0)
    await journal.close()
    assert [seq for seq, _ in rows] == [1, 2]
    assert all(got is sent for (_, got), sent in zip(rows, appended, strict=True))


async def test_events_another_process_appended_are_read_back_from_disk(tmp_path: Path) -> None:
    """A journal that did not append an event reads it from its stored JSON, equal in value."""
    writer, reader = Journal(tmp_path, Metrics()), Journal(tmp_path, Metrics())
    await writer.open()
    await reader.open()
    appended = [event(1, output="first"), event(2)]
    await writer.append(appended)
    rows = await reader.after(0)
    await writer.close()
    await reader.close()
    got = [item for _, item in rows]
    assert all(a is not b for a, b in zip(got, appended, strict=True))
    assert [e.model_dump() for e in got if isinstance(e, Event)] == [
        e.model_dump() for e in appended
    ]


async def test_events_nobody_reads_are_not_held_without_bound(tmp_path: Path) -> None:
    """Past 4,096 unread appends the oldest are let go: `after` then reads them from disk."""
    journal = Journal(tmp_path, Metrics())
    await journal.open()
    appended = [event(n) for n in range(4097)]
    await journal.append(appended)
    (_, oldest), (_, second) = await journal.after(0, 2)
    await journal.close()
    assert oldest is not appended[0]
    assert isinstance(oldest, Event)
    assert oldest.id == appended[0].id
    assert second is appended[1]


@pytest.mark.parametrize(
    "path", sorted(PAYLOADS.glob("*/*.json")), ids=lambda path: f"{path.parent.name}/{path.name}"
)
async def test_an_event_handed_over_equals_its_journaled_json(tmp_path: Path, path: Path) -> None:
    """For every sender body we keep, the event as intake built it is the event read back."""
    raw = await asyncio.to_thread(path.read_bytes)
    body = json.loads(raw)
    built = normalise(body_kind(body), body, datetime.now(UTC), TargetRules(), raw)
    writer, reader = Journal(tmp_path, Metrics()), Journal(tmp_path, Metrics())
    await writer.open()
    await reader.open()
    await writer.append(built)
    handed, read_back = await writer.after(0), await reader.after(0)
    await writer.close()
    await reader.close()
    assert all(a is b for (_, a), b in zip(handed, built, strict=True))
    assert [e.model_dump() for _, e in read_back if isinstance(e, Event)] == [
        e.model_dump() for e in built
    ]
