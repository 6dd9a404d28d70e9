"""Exactly the container the alert names: by its exact name, or 12+ hex digits of its id.

Docker resolves a reference by exact id, then exact name, then any id prefix. An alert is
attacker-written: `8f` must not reach a container whose id starts `8f`, and a container named
after another's id must not receive the containment meant for that id. Once resolved, every
call, release included, uses the full 64-digit id.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

import pytest
from _incidents import FAST, PLAYBOOK, incidents_of, post_and_settle

from responder.cli import main
from responder.engine import ContainerInfo, answers_to, is_full_id, not_found, reference
from responder.journal import Target
from responder.web.state import ACTIONS, ENGINE, FOLLOWUP, INCIDENTS, SETTINGS
from responder.worker.release import release_incident

if TYPE_CHECKING:
    from pathlib import Path

    from _docker import Resources
    from conftest import ClientFactory

    from responder.engine import SdkEngine

VICTIM_ID = "6b9f19590ba3" + "7" * 52
WEB = ContainerInfo(VICTIM_ID, "nu-web-1", "nginx")


@pytest.mark.parametrize(
    "target",
    [
        Target(id=VICTIM_ID[:12]),
        Target(id=VICTIM_ID[:20]),
        Target(id=VICTIM_ID),
        Target(name="nu-web-1"),
        Target(name="/nu-web-1"),
        Target(name=VICTIM_ID[:12]),  # a name field holding 12+ hex digits of the id
        Target(id="8f", name="nu-web-1"),  # an id field that cannot name one: the name decides
        Target(id=VICTIM_ID[:12], name="another-name"),  # the id decides: a rename is fine
    ],
)
def test_a_reference_answers_by_exact_name_or_a_long_enough_id_prefix(target: Target) -> None:
    """The exact name, or 12+ lowercase hex digits the full id starts with, name the container."""
    assert answers_to(target, WEB)


@pytest.mark.parametrize(
    "target",
    [
        Target(id="6"),
        Target(id="6b9f"),
        Target(id=VICTIM_ID[:11]),  # one digit short of the shortest prefix accepted
        Target(id=VICTIM_ID[:12].upper()),
        Target(id="0" * 12),
        Target(id=VICTIM_ID[:12] + "0"),  # longer, and not a prefix of the id
        Target(name="nu-web"),  # a prefix of the name
        Target(name="nu-web-10"),
        Target(name="NU-WEB-1"),
        Target(name="6b9f"),  # hex, but too short to be read as an id
        Target(name=VICTIM_ID[:11]),
        Target(id=VICTIM_ID[:12][::-1], name="nu-web-1"),  # a usable id decides: not this one
    ],
)
def test_short_or_partial_references_name_no_container(target: Target) -> None:
    """Short id prefixes, name prefixes, other case: the alert names no container."""
    assert not answers_to(target, WEB)


def test_an_id_field_that_cannot_name_a_container_says_so() -> None:
    """A short id with nothing else is refused before the engine is asked, and says why."""
    assert reference(Target(id="8f")) == ("8f", "id")
    assert "is no container id" in not_found(Target(id="8f"))
    assert "the engine was not asked" in not_found(Target(id="8f"))
    assert not_found(Target(name="ghost")) == "container 'ghost' not found on the engine"


@pytest.mark.docker
@pytest.mark.parametrize("length", [1, 2, 4, 8, 11])
async def test_the_engine_is_never_asked_to_act_on_a_short_id_prefix(
    engine: SdkEngine, resources: Resources, length: int
) -> None:
    """An alert naming `8f`, as an id or as a name, finds no container whose id starts `8f`."""
    container = resources.container()
    short = container.id[:length]
    assert await engine.resolve(Target(id=short)) is None
    assert await engine.resolve(Target(name=short)) is None


@pytest.mark.docker
@pytest.mark.parametrize("length", [12, 13, 32, 64])
async def test_a_long_enough_id_prefix_resolves_to_the_full_id(
    engine: SdkEngine, resources: Resources, length: int
) -> None:
    """12 or more hex digits of the id resolve, and what is returned carries all 64."""
    container = resources.container()
    found = await engine.resolve(Target(id=container.id[:length]))
    assert found is not None
    assert found.id == container.id
    assert is_full_id(found.id)


@pytest.mark.docker
async def test_a_name_resolves_only_exactly(engine: SdkEngine, resources: Resources) -> None:
    """The exact name resolves; its prefix, a longer name or another case do not."""
    container = resources.container()
    assert (await engine.resolve(Target(name=container.name))) == container
    assert (await engine.resolve(Target(name=f"/{container.name}"))) == container
    for near in (container.name[:-1], container.name + "0", container.name.upper()):
        assert await engine.resolve(Target(name=near)) is None


@pytest.mark.docker
@pytest.mark.parametrize("length", [12, 16, 64])
async def test_a_container_named_after_another_s_id_never_answers_for_that_id(
    engine: SdkEngine, resources: Resources, length: int
) -> None:
    """`docker run --name <victim's id>`: an alert's id field still resolves to the victim."""
    victim = resources.container()
    decoy = resources.container(name=victim.id[:length])
    assert decoy.name == victim.id[:length]
    found = await engine.resolve(Target(id=victim.id[:length]))
    assert found is not None
    assert found.id == victim.id
    # As a name field, the reference names two containers (one by name, one by id): neither.
    assert await engine.resolve(Target(name=victim.id[:length])) is None


@pytest.mark.docker
async def test_a_short_hex_name_is_found_by_its_name_only(
    engine: SdkEngine, resources: Resources
) -> None:
    """A container really named `8f` is the one a name field `8f` names; an id field never is."""
    name = secrets.token_hex(1)
    named = resources.container(name=name)
    assert (await engine.resolve(Target(name=name))) == named
    assert await engine.resolve(Target(id=name)) is None


@pytest.mark.docker
async def test_lookups_by_full_id_only(engine: SdkEngine, resources: Resources) -> None:
    """`container(id)` takes a full id; a name or prefix handed to it finds nothing."""
    container = resources.container()
    assert (await engine.container(container.id)) == container
    assert await engine.container(container.id[:12]) is None
    assert await engine.container(container.name) is None


def _info(attrs: dict[str, Any]) -> ContainerInfo:
    return ContainerInfo.from_inspect(attrs)


def test_container_info_keeps_the_full_id() -> None:
    """The id read from `inspect` is the whole id, and the short one is derived from it."""
    info = _info({"Id": VICTIM_ID, "Name": "/nu-web-1", "Config": {"Image": "nginx"}})
    assert info.id == VICTIM_ID
    assert info.short_id == VICTIM_ID[:12]


@pytest.fixture
def shell_playbooks(tmp_path: Path) -> Path:
    """A playbook directory holding the worker tests' containment playbook."""
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "shell.yaml").write_text(PLAYBOOK)
    return directory


def _body(**fields: str) -> dict[str, Any]:
    return {
        "rule": "Terminal shell in container",
        "priority": "Notice",
        "output": "shell",
        "output_fields": fields,
    }


def _untouched(resources: Resources, container: ContainerInfo, network: str) -> None:
    attrs = resources.inspect(container.id)
    assert attrs["State"]["Status"] == "running"
    assert set(attrs["NetworkSettings"]["Networks"]) == {network}


@pytest.mark.docker
@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"container.id": "{id2}"}, "is no container id"),
        ({"container.id": "{id11}"}, "is no container id"),
        ({"container.name": "{id2}"}, "not found on the engine"),
        ({"container.name": "{id8}"}, "not found on the engine"),
        ({"container.id": "{ID12}"}, "is no container id"),
        ({"container.name": "{name_prefix}"}, "not found on the engine"),
    ],
)
async def test_an_alert_naming_a_short_or_partial_reference_contains_nothing(
    make_client: ClientFactory,
    shell_playbooks: Path,
    resources: Resources,
    fields: dict[str, str],
    why: str,
) -> None:
    """Regression: an alert naming `8f` contained the container whose id starts `8f`."""
    network, _ = resources.network()
    victim = resources.container(networks={network: {}})
    values = {
        "id2": victim.id[:2],
        "id8": victim.id[:8],
        "id11": victim.id[:11],
        "ID12": victim.id[:12].upper(),
        "name_prefix": victim.name[:-2],
    }
    client = await make_client(playbooks=shell_playbooks, limits=FAST)
    body = _body(**{k: v.format(**values) for k, v in fields.items()})
    assert await post_and_settle(client, body) == 202
    [incident] = await incidents_of(client)
    assert incident.state == "failed"
    assert [s.status for s in incident.steps] == ["failed", "skipped", "skipped", "done"]
    assert why in incident.steps[0].error
    _untouched(resources, victim, network)


@pytest.mark.docker
@pytest.mark.parametrize("length", [12, 16])
async def test_a_decoy_named_after_the_victim_s_id_is_never_contained_and_release_finds_the_victim(
    make_client: ClientFactory, shell_playbooks: Path, resources: Resources, length: int
) -> None:
    """Regression: `docker run --name <id>` received the containment meant for that id."""
    network, _ = resources.network()
    victim = resources.container(networks={network: {}})
    decoy = resources.container(networks={network: {}}, name=victim.id[:length])
    client = await make_client(playbooks=shell_playbooks, limits=FAST)
    assert await post_and_settle(client, _body(**{"container.id": victim.id[:length]})) == 202
    [incident] = await incidents_of(client)
    assert incident.state == "contained"
    assert incident.container_id == victim.id  # the full id, from here on
    assert incident.target == victim.id
    assert resources.inspect(victim.id)["State"]["Status"] == "paused"
    _untouched(resources, decoy, network)
    released = await release_incident(
        incident.id,
        incidents=client.app[INCIDENTS],
        engine=client.app[ENGINE],
        actions=client.app[ACTIONS],
        data_dir=client.app[SETTINGS].data_dir,
        followup=client.app[FOLLOWUP],
        requested_by="test",
    )
    assert released.state == "released"
    _untouched(resources, victim, network)
    _untouched(resources, decoy, network)


@pytest.mark.docker
async def test_a_name_field_naming_one_container_by_name_and_another_by_id_names_neither(
    make_client: ClientFactory, shell_playbooks: Path, resources: Resources
) -> None:
    """A name field `6b9f19590ba3`, a decoy's name and the victim's id prefix: no containment."""
    network, _ = resources.network()
    victim = resources.container(networks={network: {}})
    decoy = resources.container(networks={network: {}}, name=victim.id[:12])
    client = await make_client(playbooks=shell_playbooks, limits=FAST)
    assert await post_and_settle(client, _body(**{"container.name": victim.id[:12]})) == 202
    [incident] = await incidents_of(client)
    assert incident.state == "failed"
    _untouched(resources, victim, network)
    _untouched(resources, decoy, network)


@pytest.mark.docker
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"container.id": "{id4}"}, "would fail: '{id4}' is no container id"),
        ({"container.name": "{id4}"}, "would fail: container '{id4}' not found on the engine"),
        ({"container.id": "{id12}"}, "would pause {victim}"),
        ({"container.name": "{victim}"}, "would pause {victim}"),
    ],
)
def test_plan_resolves_as_the_run_does(
    capsys: pytest.CaptureFixture[str],
    shell_playbooks: Path,
    resources: Resources,
    fields: dict[str, str],
    expected: str,
) -> None:
    """`plan` finds the container the run would act on, or fails the steps the run would fail."""
    victim = resources.container()
    resources.container(name=victim.id[:12])  # a decoy, to be ignored by an id field
    values = {"id4": victim.id[:4], "id12": victim.id[:12], "victim": victim.name}
    event = shell_playbooks.parent / "event.json"
    event.write_text(json.dumps(_body(**{k: v.format(**values) for k, v in fields.items()})))
    assert main(["plan", str(event), "--playbooks", str(shell_playbooks)]) == 0
    assert expected.format(**values) in capsys.readouterr().out
