"""What the worker asks the engine about an event's container: nothing for noise, once per burst.

The app runs on a `FakeEngine` (held to the real engine's answers by test_engine_contract.py),
whose `calls` log is every question the worker asked it.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pytest
from _incidents import FAST, PLAYBOOK, incidents_of, post_and_settle, shell

from responder.journal import Target
from responder.testing import FakeEngine
from responder.web.state import WORKER
from responder.worker.lookups import Lookup

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import ClientFactory


@pytest.fixture
def playbooks(tmp_path: Path) -> Path:
    """The worker tests' containment playbook, alone in its directory."""
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "shell.yaml").write_text(PLAYBOOK)
    return directory


def lookups(engine: FakeEngine) -> list[str]:
    """Every container reference the engine was asked to resolve, in order."""
    return [argument for method, argument in engine.calls if method == "resolve"]


async def test_an_event_no_playbook_wants_costs_no_inspect(
    make_client: ClientFactory, playbooks: Path
) -> None:
    """Noise is matched, audited and filed without asking the engine about its container."""
    engine = FakeEngine()
    target = engine.add()
    client = await make_client(engine=engine, playbooks=playbooks, limits=FAST)
    noise = {**shell(target), "rule": "Contact K8S API Server From Container"}
    await post_and_settle(client, noise)
    assert lookups(engine) == []
    assert await incidents_of(client) == []
    await post_and_settle(client, shell(target, 1))
    assert target.id[:12] in lookups(engine)  # the same container, once a playbook wants the event
    [incident] = await incidents_of(client)
    assert incident.container_id == target.id


async def test_a_container_id_not_found_is_not_inspected_again_within_a_second(
    make_client: ClientFactory, playbooks: Path
) -> None:
    """A burst about a container that is gone asks the engine once, not once per event."""
    engine = FakeEngine()
    client = await make_client(engine=engine, playbooks=playbooks, limits=FAST)
    gone = secrets.token_hex(6)
    by_id = Target(id=gone, name="gone")
    worker_lookups = client.app[WORKER]._dispatch._lookups
    for _ in range(3):
        assert await worker_lookups.of([by_id, by_id]) == {by_id: Lookup(None)}
    assert lookups(engine) == [gone]
    by_name = Target(name="gone")
    for _ in range(2):
        assert await worker_lookups.of([by_name]) == {by_name: Lookup(None)}
    assert lookups(engine) == [gone, "gone", "gone"]  # a name may be taken by a new container


async def test_an_incident_just_opened_starts_from_the_dispatchs_find(
    make_client: ClientFactory, playbooks: Path
) -> None:
    """The runner does not inspect again a container the dispatch found a moment ago."""
    engine = FakeEngine()
    target = engine.add()
    client = await make_client(engine=engine, playbooks=playbooks, limits=FAST)
    await post_and_settle(client, shell(target, 1))
    [incident] = await incidents_of(client)
    assert incident.container_id == target.id
    assert incident.steps[0].attempts >= 1  # the runner had the container: its steps were tried
    asked = [method for method, _ in engine.calls if method in ("resolve", "container")]
    assert asked == ["resolve"]
