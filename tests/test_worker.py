"""The worker against a real engine: incidents from posted events, safety, the limit, release, resume."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from _incidents import FAST, PLAYBOOK, incidents_of, post_and_settle, settle, shell
from pydantic import SecretStr

from responder.actions import ActionRegistry, default_actions
from responder.incidents import Dispatch, IncidentStore, NewIncident, StepRecord, now
from responder.intake.falco import FalcoPayload, falco_event
from responder.journal import Journal, new_event_id
from responder.metrics import Metrics
from responder.playbooks import load_playbooks
from responder.settings import AuthSettings, IncidentSettings, Protection
from responder.web.state import ACTIONS, ENGINE, FOLLOWUP, INCIDENTS, SETTINGS
from responder.worker.release import release_incident

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import docker
    from _docker import Resources
    from conftest import ClientFactory

pytestmark = pytest.mark.docker


@pytest.fixture
def playbooks(tmp_path: Path) -> Path:
    """The test playbook directory."""
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "shell.yaml").write_text(PLAYBOOK)
    return directory


@pytest.fixture
def containers(docker_client: docker.DockerClient, test_image: str) -> Iterator[Any]:
    """A factory of running containers on a network of their own, removed afterwards."""
    made: list[Any] = []
    network = docker_client.networks.create(f"resp-net-{secrets.token_hex(3)}")

    def make(name: str | None = None, **labels: str) -> Any:
        container = docker_client.containers.run(
            test_image,
            ["sleep", "300"],
            detach=True,
            labels=labels,
            name=name or f"resp-{secrets.token_hex(4)}",
            network=network.name,
        )
        made.append(container)
        return container

    yield make
    for container in made:
        container.remove(force=True)
    network.remove()


async def seed_running_incident(
    data_dir: Path, playbooks: Path, target: Any, steps: list[StepRecord]
) -> str:
    """Leave the data directory as a crash would; returns the incident id.

    The event is journaled and dispatched, the incident "running" with `steps` recorded.
    """
    journal = Journal(data_dir, Metrics())
    await journal.open()
    body = shell(target)
    event = falco_event(FalcoPayload.model_validate(body), body, datetime.now(UTC))
    await journal.append([event])
    await journal.close()
    loaded = load_playbooks([playbooks], ActionRegistry(default_actions())).playbooks[0]
    store = IncidentStore(data_dir / "incidents.sqlite3")
    incident_id = new_event_id()
    seen = event.received_at.isoformat()
    incident = NewIncident(
        id=incident_id,
        playbook=loaded.name,
        playbook_digest=loaded.digest,
        playbook_file=loaded.where,
        target=target.id,
        subject=target.id,
        container_id=target.id,
        container_name=target.name,
        image=None,
        state="running",
        reason=None,
        dry_run=False,
        event_source="falco",
        event_name=event.name,
        priority="Notice",
        first_event=event.id,
        event_count=1,
        first_seen=seen,
        last_seen=seen,
        opened_at=now(),
    )
    store.dispatch(Dispatch(cursor=1, opened=[incident]))
    for step in steps:
        store.save_step(incident_id, step)
    store.close()
    return incident_id


async def test_posted_event_contains_the_container_with_hashed_evidence(
    make_client: ClientFactory,
    playbooks: Path,
    containers: Any,
) -> None:
    """Snapshot, isolate, pause: the container ends paused and cut off; the manifest matches the files."""
    target = containers()
    client = await make_client(playbooks=playbooks, limits=FAST)
    assert await post_and_settle(client, shell(target)) == 202
    [incident] = await incidents_of(client)
    assert incident.state == "contained", incident.steps
    assert [s.status for s in incident.steps] == ["done", "done", "done", "done"]
    target.reload()
    assert target.status == "paused"
    assert list(target.attrs["NetworkSettings"]["Networks"]) == []
    evidence = client.app[SETTINGS].data_dir / "evidence" / incident.id
    manifest = json.loads((evidence / "manifest.json").read_text())
    for artifact in manifest["artifacts"]:
        if artifact["kind"] == "commit":
            continue
        data = (evidence / artifact["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == artifact["sha256"]
        assert len(data) == artifact["size"]


async def test_repeats_within_the_cooldown_join_the_incident(
    make_client: ClientFactory,
    playbooks: Path,
    containers: Any,
) -> None:
    """Three events about one container make one incident that counts three events."""
    target = containers()
    client = await make_client(playbooks=playbooks, limits=FAST)
    for n in range(3):
        await client.post("/v1/events/falco", json=shell(target, n))
    await settle(client)
    [incident] = await incidents_of(client)
    assert incident.event_count == 3


async def test_dry_run_leaves_the_container_untouched(
    make_client: ClientFactory,
    playbooks: Path,
    containers: Any,
) -> None:
    """Global dry-run: every container step says "would", the container still runs on its network."""
    target = containers()
    client = await make_client(
        playbooks=playbooks, limits=FAST, incidents=IncidentSettings(dry_run=True)
    )
    await post_and_settle(client, shell(target))
    [incident] = await incidents_of(client)
    assert incident.state == "dry-run"
    assert [s.status for s in incident.steps[1:3]] == ["would", "would"]
    target.reload()
    assert target.status == "running"
    assert len(target.attrs["NetworkSettings"]["Networks"]) == 1


async def test_protected_container_is_left_alone_and_notified(
    make_client: ClientFactory,
    playbooks: Path,
    containers: Any,
) -> None:
    """The protection label skips every container step; notify still runs."""
    target = containers(**{"responder.protect": "true"})
    client = await make_client(playbooks=playbooks, limits=FAST, protection=Protection())
    await post_and_settle(client, shell(target))
    [incident] = await incidents_of(client)
    assert incident.state == "protected"
    assert [s.status for s in incident.steps] == ["skipped", "skipped", "skipped", "done"]
    target.reload()
    assert target.status == "running"


async def test_past_the_limit_incidents_are_held(
    make_client: ClientFactory,
    playbooks: Path,
    containers: Any,
) -> None:
    """With a limit of one containment per window, the second container is held, not contained."""
    first, second = containers(), containers()
    limits = FAST.model_copy(update={"max_containments": 1})
    client = await make_client(playbooks=playbooks, limits=limits)
    await post_and_settle(client, shell(first))
    await post_and_settle(client, shell(second))
    states = sorted(i.state for i in await incidents_of(client))
    assert states == ["contained", "held"]
    second.reload()
    assert second.status == "running"


@pytest.mark.fault("alerts about containers that cannot be contained")
async def test_an_incident_that_changed_nothing_does_not_use_up_the_limit(
    make_client: ClientFactory, playbooks: Path, containers: Any, resources: Resources
) -> None:
    """Regression: a failed incident counted as a containment, so the next real one was held.

    Alerts about containers the playbook cannot contain would exhaust the limit, and leave
    the one that matters running. A container on the host network cannot be isolated.
    """
    cannot = resources.container(network_mode="host")
    target = containers()
    limits = FAST.model_copy(update={"max_containments": 1})
    client = await make_client(playbooks=playbooks, limits=limits)
    await post_and_settle(client, shell(cannot))
    await post_and_settle(client, shell(target))
    states = {i.container_name: i.state for i in await incidents_of(client)}
    assert states == {cannot.name: "failed", target.name: "contained"}


def endpoints(resources: Resources, ref: str) -> dict[str, dict[str, Any]]:
    """What release must give back on each network: aliases, the static address, links."""
    return {
        name: {
            "aliases": sorted(a for a in settings.get("Aliases") or [] if a != ref[:12]),
            "ipam": settings.get("IPAMConfig"),
            "links": settings.get("Links"),
            # A static address (--ip) is kept; one the engine assigned may change on reconnect.
            "address": settings["IPAddress"] if settings.get("IPAMConfig") else None,
        }
        for name, settings in resources.networks_of(ref).items()
    }


async def test_release_restores_network_and_state_and_is_harmless_twice(
    make_client: ClientFactory, playbooks: Path, resources: Resources
) -> None:
    """Release unpauses and reconnects each network with its aliases, static address and links.

    A second release changes nothing and still succeeds. Regression: this test compared
    network names only, so it passed when release dropped aliases and addresses.
    """
    static, address = resources.network(subnet=True)
    other, _ = resources.network()
    peer = resources.container(networks={other: {}})
    target = resources.container(
        networks={
            static: {"aliases": ["web", "www"], "ipv4_address": address},
            other: {"aliases": ["api"], "links": [(peer.name, "peer")]},
        }
    )
    before = endpoints(resources, target.id)
    assert before[static]["address"] == address
    assert before[other]["links"]
    client = await make_client(playbooks=playbooks, limits=FAST)
    await post_and_settle(client, shell(target))
    [incident] = await incidents_of(client)
    assert incident.state == "contained"
    assert resources.networks_of(target.id) == {}

    app = client.app
    for _ in range(2):
        result = await release_incident(
            incident.id,
            incidents=app[INCIDENTS],
            engine=app[ENGINE],
            actions=app[ACTIONS],
            data_dir=app[SETTINGS].data_dir,
            followup=app[FOLLOWUP],
            requested_by="test",
        )
        assert result.state == "released", result
        assert endpoints(resources, target.id) == before
    assert resources.inspect(target.id)["State"]["Status"] == "running"


async def test_restart_resumes_an_unfinished_incident_after_its_last_recorded_step(
    make_client: ClientFactory,
    settings: Any,
    playbooks: Path,
    containers: Any,
) -> None:
    """An incident left "running" with step 1 recorded resumes at step 2 on start-up."""
    target = containers()
    seen = datetime.now(UTC).isoformat()
    first = StepRecord(
        index=0,
        action="docker:snapshot",
        status="done",
        detail="taken before the crash",
        started_at=seen,
        duration_ms=1.0,
        attempts=1,
    )
    await seed_running_incident(settings.data_dir, playbooks, target, [first])
    client = await make_client(playbooks=playbooks, limits=FAST)
    await settle(client)
    [incident] = await incidents_of(client)
    assert incident.state == "contained"
    assert incident.steps[0].detail == "taken before the crash"
    assert [s.status for s in incident.steps[1:]] == ["done", "done", "done"]
    target.reload()
    assert target.status == "paused"


async def test_incident_views_and_release_over_http_with_the_admin_credential(
    make_client: ClientFactory, playbooks: Path, containers: Any
) -> None:
    """GET lists and shows incidents with the read token; release needs the admin token."""
    target = containers()
    auth = AuthSettings(
        token=SecretStr("intake-token"),
        read_token=SecretStr("read-token"),
        admin_token=SecretStr("admin-token"),
    )
    client = await make_client(playbooks=playbooks, limits=FAST, auth=auth)
    intake = {"Authorization": "Bearer intake-token"}
    reader = {"Authorization": "Bearer read-token"}
    await post_and_settle(client, shell(target), headers=intake)
    listing = await (await client.get("/v1/incidents", headers=reader)).json()
    [summary] = listing["incidents"]
    assert summary["state"] == "contained"
    detail = await (await client.get(f"/v1/incidents/{summary['id']}", headers=reader)).json()
    assert [s["action"] for s in detail["steps"]] == [
        "docker:snapshot",
        "docker:isolate",
        "docker:pause",
        "notify",
    ]
    expected = client.app[SETTINGS].release_command(summary["id"])
    assert detail["release_command"] == expected
    assert expected.endswith(f" {summary['id']}")
    url = f"/v1/incidents/{summary['id']}/release"
    for other in (intake, reader):  # a valid credential of another role: 403, naming the admin one
        refused = await client.post(url, headers=other)
        assert refused.status == 403
        assert "RESPONDER_ADMIN_TOKEN" in (await refused.json())["message"]
    released = await client.post(url, headers={"Authorization": "Bearer admin-token"})
    assert released.status == 200
    assert (await released.json())["state"] == "released"
    target.reload()
    assert target.status == "running"


async def test_release_over_http_is_refused_without_an_admin_credential(
    make_client: ClientFactory, playbooks: Path
) -> None:
    """With no admin token configured, changing endpoints answer 403 and say how to enable them."""
    client = await make_client(playbooks=playbooks)
    response = await client.post("/v1/incidents/" + "0" * 26 + "/release")
    assert response.status == 403
    assert "RESPONDER_ADMIN_TOKEN" in (await response.json())["message"]


async def test_a_step_in_flight_at_a_crash_is_released_after_resuming(
    make_client: ClientFactory, settings: Any, tmp_path: Path, containers: Any
) -> None:
    """Regression: a pause that landed before the crash resumed as "already" and release left it paused."""
    playbooks = tmp_path / "pause-only"
    playbooks.mkdir()
    (playbooks / "p.yaml").write_text(
        "name: pause-only\nmatch: {rules: [Terminal shell in container]}\nsteps:\n  - action: docker:pause\n"
    )
    target = containers()
    pending = StepRecord(index=0, action="docker:pause", started_at=datetime.now(UTC).isoformat())
    incident_id = await seed_running_incident(settings.data_dir, playbooks, target, [pending])
    target.pause()  # the pause reached the engine; the crash came before its result was saved

    client = await make_client(playbooks=playbooks, limits=FAST)
    await settle(client)
    [incident] = await incidents_of(client)
    assert (incident.state, incident.steps[0].status) == ("contained", "already")
    app = client.app
    result = await release_incident(
        incident_id,
        incidents=app[INCIDENTS],
        engine=app[ENGINE],
        actions=app[ACTIONS],
        data_dir=app[SETTINGS].data_dir,
        followup=app[FOLLOWUP],
        requested_by="test",
    )
    assert result.state == "released"
    target.reload()
    assert target.status == "running"


async def test_after_a_failed_step_container_steps_stop_but_notify_still_runs(
    make_client: ClientFactory, playbooks: Path
) -> None:
    """A container that is gone: its steps fail or are not run, and on-call is still told."""
    client = await make_client(playbooks=playbooks, limits=FAST)
    body = {
        "rule": "Terminal shell in container",
        "priority": "Notice",
        "output": "shell in a container that is gone",
        "output_fields": {"container.name": f"gone-{secrets.token_hex(4)}"},
    }
    await post_and_settle(client, body)
    [incident] = await incidents_of(client)
    assert incident.state == "failed"
    assert [s.status for s in incident.steps] == ["failed", "skipped", "skipped", "done"]
    assert "not found on the engine" in incident.steps[0].detail
    assert incident.steps[3].action == "notify"


@pytest.mark.parametrize(
    "crafted",
    [
        "{decoy}/../{victim}",  # the engine cleans the path: this would inspect the victim
        "../containers/{victim}",
        "{decoy}/../../containers/{victim}",
    ],
)
async def test_a_container_reference_that_is_no_docker_name_never_reaches_the_engine(
    make_client: ClientFactory, playbooks: Path, containers: Any, crafted: str
) -> None:
    """A reference with path segments is refused by name, not cleaned into another container."""
    victim, decoy = containers(), containers()
    client = await make_client(playbooks=playbooks, limits=FAST)
    ref = crafted.format(victim=victim.name, decoy=decoy.name)
    body = {
        "rule": "Terminal shell in container",
        "priority": "Notice",
        "output": "shell in a container named with path segments",
        "output_fields": {"container.name": ref},
    }
    assert await post_and_settle(client, body) == 202
    [incident] = await incidents_of(client)
    assert incident.state == "failed"
    assert [s.status for s in incident.steps] == ["failed", "skipped", "skipped", "done"]
    assert "is not a Docker container name or id" in incident.steps[0].detail
    for container in (victim, decoy):
        container.reload()
        assert container.status == "running"
        assert len(container.attrs["NetworkSettings"]["Networks"]) == 1


@pytest.mark.fault("alerts repeating for a container that is gone")
async def test_repeats_about_a_container_that_is_gone_join_the_failed_incident(
    make_client: ClientFactory, playbooks: Path
) -> None:
    """Regression: every repeat opened a new failed incident, and on-call was told each time.

    A container gone for good fails the same way at every try; one incident counts them.
    """
    client = await make_client(playbooks=playbooks, limits=FAST)
    gone = SimpleNamespace(id=secrets.token_hex(6), name=f"gone-{secrets.token_hex(4)}")
    for n in range(4):
        # each repeat comes after the incident has failed
        await post_and_settle(client, shell(gone, n))
    [incident] = await incidents_of(client)
    assert incident.state == "failed"
    assert incident.event_count == 4
    assert [s.status for s in incident.steps] == ["failed", "skipped", "skipped", "done"]
