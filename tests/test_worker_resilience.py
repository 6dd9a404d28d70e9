"""The worker never goes deaf: what cannot be read or dispatched is set aside, and readiness tells.

Regression: a Falco body whose `output_fields` nested about 199 objects deep was acknowledged,
but its stored form was one level past the reader's limit; the worker task ended on it and
every later alert was acknowledged and never acted on, while `/readyz` stayed 200.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from _hostile import examples
from _incidents import FAST, PLAYBOOK, incidents_of, settle, shell
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from responder.app import create_app
from responder.engine import SdkEngine
from responder.errors import InputError, TransientError
from responder.intake.bodies import events_from_body
from responder.intake.body import MAX_NESTING
from responder.journal import JOURNAL_FILE, read_event
from responder.settings import DockerSettings, Settings, TargetRules
from responder.web.state import INCIDENTS, OUTBOX, WORKER

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from _docker import Resources
    from aiohttp.test_utils import TestClient
    from aiohttp.web import Application
    from conftest import ClientFactory

    from responder.engine import ContainerInfo
    from responder.journal import Target


def nested(depth: int, leaf: Any = "x", *, key: str = "k", arrays: bool = False) -> Any:
    """A value `depth` containers deep: objects, or arrays and objects in turn."""
    value = leaf
    for level in range(depth):
        value = [value] if arrays and level % 2 else {key: value}
    return value


def falco_with(fields: dict[str, Any]) -> dict[str, Any]:
    """A Falco body with these output fields."""
    return {"rule": "Some rule", "priority": "Notice", "output": "o", "output_fields": fields}


@pytest.fixture
def playbooks(tmp_path: Path) -> Path:
    """The containment playbook of the worker tests."""
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "shell.yaml").write_text(PLAYBOOK)
    return directory


@pytest.mark.parametrize(
    "body",
    [
        falco_with({"deep": nested(MAX_NESTING + 1)}),
        falco_with({"deep": nested(199)}),
        falco_with({"deep": nested(190, arrays=True)}),
        {**falco_with({}), "extra": nested(MAX_NESTING)},
        {"rule": "r", "priority": "Notice", "output": "o", "tags": [nested(MAX_NESTING)]},
        {"version": "4", "alerts": [{"labels": {"alertname": "A"}, "x": nested(MAX_NESTING)}]},
        {"version": "4", "alerts": [{"labels": {}}], "commonLabels": nested(150, arrays=True)},
    ],
    ids=["fields-65", "fields-199", "arrays-190", "unknown-key", "tags", "alert-key", "group-key"],
)
async def test_a_body_nested_past_the_bound_is_refused_and_names_where(
    make_client: ClientFactory, body: dict[str, Any]
) -> None:
    """Too deep to read back once journaled: 422 with the field path, nothing journaled."""
    client = await make_client()
    path = "/v1/events/alertmanager" if "alerts" in body else "/v1/events/falco"
    response = await client.post(path, json=body)
    assert response.status == 422
    answer = await response.json()
    assert f"nests deeper than {MAX_NESTING} levels" in answer["message"]
    assert (await client.get("/v1/events")).status == 200
    assert (await (await client.get("/v1/events")).json())["events"] == []


@pytest.mark.parametrize("depth", [1, 10, MAX_NESTING - 3, MAX_NESTING - 2])
async def test_an_acknowledged_body_reads_back_the_way_the_worker_reads_it(
    make_client: ClientFactory, depth: int
) -> None:
    """At the bound and below: 202, readable through the API, dispatched by the worker."""
    client = await make_client()
    response = await client.post("/v1/events/falco", json=falco_with({"deep": nested(depth)}))
    assert response.status == 202
    [accepted] = (await response.json())["events"]
    event = await client.get(f"/v1/events/{accepted['id']}")
    assert event.status == 200
    await settle(client)
    assert await client.app[INCIDENTS].run(lambda s: s.quarantined()) == []


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=200,
)


@hypothesis_settings(
    max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(depth=st.integers(min_value=0, max_value=MAX_NESTING + 3), leaf=_JSON, arrays=st.booleans())
def test_every_body_intake_accepts_reads_back(depth: int, leaf: Any, arrays: bool) -> None:
    """Property: a Falco body intake accepts is journaled in a form the reader reads back."""
    body = falco_with({"deep": nested(depth, leaf, arrays=arrays)})
    try:
        events = events_from_body(json.loads(json.dumps(body)), datetime.now(UTC), TargetRules())
    except InputError:
        return  # refused at the edge: never acknowledged
    for event in events:
        assert read_event(event.id, event.model_dump_json()) == event


def _journal_row(data_dir: Path, body: str) -> str:
    """Write a row the reader cannot read back straight into the journal; its event id."""
    event_id = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
    with sqlite3.connect(data_dir / JOURNAL_FILE) as conn:
        conn.execute(
            "INSERT INTO events (id, key, source, name, priority, status, hostname, "
            "container_id, container_name, time, received_at, body) "
            "VALUES (?, ?, 'falco', 'Poison', 2, 'firing', NULL, NULL, NULL, "
            "'2026-12-06T00:00:00+00:00', '2026-12-06T00:00:00+00:00', ?)",
            (event_id, f"poison:{event_id}", body),
        )
    return event_id


_UNREADABLE = {
    "too deep": json.dumps({"id": "x", "raw": nested(210)}),
    "not an event": json.dumps({"hello": "world"}),
    "not JSON": "{this is not json",
    "wrong types": json.dumps({"id": 1, "key": [], "source": "nowhere"}),
}


@pytest.mark.docker
@pytest.mark.parametrize("body", list(_UNREADABLE.values()), ids=list(_UNREADABLE))
async def test_an_event_that_does_not_read_back_is_quarantined_and_the_next_one_is_acted_on(
    make_client: ClientFactory,
    settings: Settings,
    playbooks: Path,
    resources: Resources,
    body: str,
) -> None:
    """Set aside, audited, counted, told to on-call; the alert after it is still contained."""
    client = await make_client(playbooks=playbooks, limits=FAST)
    poison = _journal_row(settings.data_dir, body)
    container = resources.container()
    response = await client.post("/v1/events/falco", json=shell(container))
    assert response.status == 202
    await settle(client)
    [incident] = await incidents_of(client)
    assert incident.state == "contained"
    [(_, event_id, error, _)] = await client.app[INCIDENTS].run(lambda s: s.quarantined())
    assert event_id == poison
    assert "does not read back" in error
    audit = (settings.data_dir / "audit.jsonl").read_text()
    assert '"kind":"event.quarantined"' in audit
    metrics = await (await client.get("/metrics")).text()
    assert "responder_events_quarantined_total 1.0" in metrics
    notices = await client.app[OUTBOX].run(lambda s: s.for_incident(poison))
    assert [n.message.kind for n in notices] == ["notice"]
    assert "[QUARANTINED]" in notices[0].message.title
    shown = await client.get(f"/v1/events/{poison}")
    assert shown.status == 200
    assert (await shown.json())["readable"] is False
    ready = await client.get("/readyz")
    assert ready.status == 200, await ready.text()


async def test_a_quarantined_event_stays_behind_across_a_restart(
    make_client: ClientFactory, settings: Settings
) -> None:
    """The cursor moved past it: a restart does not read it again, nor stop on it."""
    client = await make_client()
    poison = _journal_row(settings.data_dir, "{not json")
    await settle(client)
    await client.close()
    again = await make_client()
    await settle(again)
    assert [q[1] for q in await again.app[INCIDENTS].run(lambda s: s.quarantined())] == [poison]
    assert (await again.get("/readyz")).status in {200, 503}  # docker may be absent here
    health = await again.app[WORKER].health()
    assert health["ok"], health


class _FailingOn:
    """The real engine, except that resolving one reference raises `error` (made from it)."""

    def __init__(self, ref: str, error: Callable[[str], Exception]) -> None:
        self._engine = SdkEngine(DockerSettings())
        self._ref = ref
        self._error = error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    async def resolve(self, target: Target) -> ContainerInfo | None:
        """Raise for the poisoned reference; resolve the others."""
        if target.ref == self._ref:
            raise self._error(self._ref)
        return await self._engine.resolve(target)


@pytest.mark.docker
async def test_an_event_dispatch_keeps_failing_on_is_quarantined_and_the_worker_goes_on(
    aiohttp_client: Any,
    settings: Settings,
    playbooks: Path,
    resources: Resources,
) -> None:
    """A fault that is not the store's, on one event: tried, tried alone, then set aside."""
    engine = _FailingOn(
        "poisoned-name", lambda ref: RuntimeError(f"a bug the event {ref} sets off")
    )
    app = create_app(
        settings.model_copy(update={"playbooks": playbooks, "limits": FAST}),
        engine=engine,
    )
    client: TestClient[Any, Application] = await aiohttp_client(app)
    container = resources.container()
    poisoned = {**shell(container), "output_fields": {"container.name": "poisoned-name"}}
    for body in (shell(container, 1), poisoned, shell(container, 2)):
        assert (await client.post("/v1/events/falco", json=body)).status == 202
    await _until(lambda: client.app[INCIDENTS].run(lambda s: s.quarantined()), "a quarantine")
    await settle(client)
    [(_, _, error, _)] = await client.app[INCIDENTS].run(lambda s: s.quarantined())
    assert "a bug the event poisoned-name sets off" in error
    [incident] = await incidents_of(client)
    assert incident.event_count == 2  # the events before and after it
    assert (await client.app[WORKER].health())["ok"]


async def _until(check: Callable[[], Awaitable[Any]], what: str) -> None:
    """Wait up to 90 s for a condition (what the test waits for, not a timing assertion)."""
    deadline = time.monotonic() + 90
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within 90 s: {what}")
        await asyncio.sleep(0.1)


async def _worker_check(client: TestClient[Any, Application]) -> dict[str, Any]:
    answer: dict[str, Any] = await (await client.get("/readyz")).json()
    return dict(answer["checks"]["worker"])


async def test_a_worker_that_stops_makes_readiness_fail(make_client: ClientFactory) -> None:
    """The worker's task gone (whatever the cause): /readyz is 503 and names the worker."""
    client = await make_client()
    task = client.app[WORKER]._loop_task
    assert task is not None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    answer = await (await client.get("/readyz")).json()
    assert "worker" in answer["failing"]
    assert answer["checks"]["worker"]["error"] == "the worker stopped"


async def test_a_worker_that_makes_no_progress_makes_readiness_fail_until_it_does(
    make_client: ClientFactory, settings: Settings
) -> None:
    """The incident store locked by another process: no progress with events waiting is a 503.

    A fault of the store is retried for as long as it lasts (nothing is quarantined for it);
    once the lock is gone the events are dispatched and readiness is back.
    """
    limits = FAST.model_copy(update={"worker_stall": timedelta(milliseconds=300)})
    client = await make_client(limits=limits)
    await settle(client)
    locker = sqlite3.connect(settings.data_dir / "incidents.sqlite3", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        assert (await client.post("/v1/events/falco", json=falco_with({}))).status == 202

        async def stalled() -> bool:
            check = await _worker_check(client)
            return not check["ok"] and "no progress" in check.get("error", "")

        await _until(stalled, "the worker check to say it makes no progress")
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    async def recovered() -> bool:
        return bool((await _worker_check(client))["ok"])

    await _until(recovered, "the worker to catch up once the store is free")
    assert await client.app[INCIDENTS].run(lambda s: s.quarantined()) == []


@pytest.mark.docker
async def test_an_event_whose_lookup_never_gets_an_answer_is_quarantined_not_held_forever(
    aiohttp_client: Any,
    settings: Settings,
    playbooks: Path,
    resources: Resources,
) -> None:
    """Deferred while the engine does not answer; set aside once it answers all but this lookup."""
    # As an engine that hangs on this one lookup: a transient fault, every time.
    engine = _FailingOn("hanging-name", lambda ref: TransientError(f"no answer about {ref} in 2 s"))
    limits = FAST.model_copy(update={"worker_stall": timedelta(milliseconds=500)})
    app = create_app(
        settings.model_copy(update={"playbooks": playbooks, "limits": limits}), engine=engine
    )
    client: TestClient[Any, Application] = await aiohttp_client(app)
    container = resources.container()
    hanging = {**shell(container), "output_fields": {"container.name": "hanging-name"}}
    assert (await client.post("/v1/events/falco", json=hanging)).status == 202
    await _until(lambda: client.app[INCIDENTS].run(lambda s: s.quarantined()), "a quarantine")
    [(_, _, error, _)] = await client.app[INCIDENTS].run(lambda s: s.quarantined())
    assert "the engine answers, but not the lookup of this event's container" in error
    assert "no answer about hanging-name in 2 s" in error
    assert await client.app[INCIDENTS].run(lambda s: s.deferred()) == []
    assert (await client.post("/v1/events/falco", json=shell(container, 1))).status == 202
    await settle(client)
    [incident] = await incidents_of(client)
    assert incident.state == "contained"
    assert (await client.app[WORKER].health())["ok"]
