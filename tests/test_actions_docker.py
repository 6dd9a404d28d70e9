"""The Docker actions and their undo, against the real engine: pause, stop, kill, isolate, snapshot."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import tarfile
from typing import TYPE_CHECKING, Any, NamedTuple

import docker.errors
import pytest
from _docker import ACTION_INCIDENT, Resources, wait_for
from _evidence import check_manifest, manifest_of, sha256_of
from pydantic import ByteSize

from responder import __version__
from responder.actions import ActionContext
from responder.actions._endpoints import QUARANTINE_LABEL
from responder.actions.isolate import Isolate, IsolateParams
from responder.actions.lifecycle import Kill, KillParams, NoParams, Pause, Stop, StopParams
from responder.actions.snapshot import Snapshot, SnapshotParams
from responder.engine import SdkEngine
from responder.errors import PermanentError, TransientError
from responder.settings import DockerSettings

if TYPE_CHECKING:
    from pathlib import Path

    from responder.actions import Action, ActionParams

pytestmark = pytest.mark.docker

INCIDENT = ACTION_INCIDENT


@pytest.fixture
def dry(ctx: ActionContext) -> ActionContext:
    """The same context, in dry-run."""
    return ActionContext(
        engine=ctx.engine,
        incident_id=ctx.incident_id,
        evidence_dir=ctx.evidence_dir,
        dry_run=True,
        versions=ctx.versions,
    )


def status(resources: Resources, ref: str) -> str:
    """The container's state now."""
    return resources.info(ref).status


def aliases(settings: dict[str, Any], ref: str) -> list[str]:
    """An endpoint's aliases without the short id Docker adds."""
    return sorted(a for a in settings.get("Aliases") or [] if a != ref[:12])


def tar_names(path: Path) -> list[str]:
    """The members of a tar file."""
    with tarfile.open(path) as tar:
        return tar.getnames()


# -- pause, stop, kill -------------------------------------------------------------------------


async def test_pause_freezes_the_container_and_records_unpause(
    ctx: ActionContext, resources: Resources
) -> None:
    """Pause leaves the container paused and tells release to unpause it."""
    container = resources.container()
    outcome = await Pause().run(ctx, NoParams(), container)
    assert (outcome.status, outcome.detail) == ("done", f"paused {container.name}")
    assert outcome.undo == {"unpause": True}
    assert status(resources, container.id) == "paused"


async def test_pause_of_a_paused_container_is_already(
    ctx: ActionContext, resources: Resources
) -> None:
    """Pausing twice is a success that says "already"; its undo serves only a resumed step."""
    container = resources.container()
    await Pause().run(ctx, NoParams(), container)
    outcome = await Pause().run(ctx, NoParams(), container)
    assert (outcome.status, outcome.detail) == ("already", f"{container.name} was already paused")
    assert outcome.undo == {"unpause": True}


async def test_pause_release_unpauses(ctx: ActionContext, resources: Resources) -> None:
    """Release of a pause unpauses the container."""
    container = resources.container()
    outcome = await Pause().run(ctx, NoParams(), container)
    assert outcome.undo is not None
    released = await Pause().release(ctx, outcome.undo, container.id)
    assert (released.status, released.detail) == ("restored", f"unpaused {container.name}")
    assert status(resources, container.id) == "running"


async def test_pause_release_of_a_running_container_is_already(
    ctx: ActionContext, resources: Resources
) -> None:
    """Releasing a pause twice is harmless: the second says "already"."""
    container = resources.container()
    outcome = await Pause().run(ctx, NoParams(), container)
    assert outcome.undo is not None
    await Pause().release(ctx, outcome.undo, container.id)
    again = await Pause().release(ctx, outcome.undo, container.id)
    assert again.status == "already"
    assert status(resources, container.id) == "running"


async def test_pause_and_release_back_to_back_never_fail(
    ctx: ActionContext, resources: Resources
) -> None:
    """The engine shows a pause or unpause a moment late: cycles at full speed still succeed."""
    container = resources.container()
    for _ in range(10):
        paused = await Pause().run(ctx, NoParams(), container)
        again = await Pause().run(ctx, NoParams(), container)
        assert (paused.status, again.status) == ("done", "already")
        assert paused.undo is not None
        first = await Pause().release(ctx, paused.undo, container.id)
        second = await Pause().release(ctx, paused.undo, container.id)
        assert {first.status, second.status} == {"restored", "already"}
    wait_for(lambda: status(resources, container.id) == "running", "the container to run")


async def test_stop_stops_the_container_and_records_start(
    ctx: ActionContext, resources: Resources
) -> None:
    """Stop leaves the container exited and tells release to start it."""
    container = resources.container()
    outcome = await Stop().run(ctx, StopParams(timeout=1), container)
    assert (outcome.status, outcome.detail) == ("done", f"stopped {container.name}")
    assert outcome.undo == {"start": True}
    assert status(resources, container.id) == "exited"


async def test_stop_of_a_stopped_container_is_already(
    ctx: ActionContext, resources: Resources
) -> None:
    """Stopping a stopped container says "already"; its undo serves only a resumed step."""
    container = resources.container()
    await Stop().run(ctx, StopParams(timeout=1), container)
    outcome = await Stop().run(ctx, StopParams(timeout=1), container)
    assert outcome.status == "already"
    assert outcome.detail == f"{container.name} was already stopped (exited)"
    assert outcome.undo == {"start": True}


async def test_stop_release_starts_the_container(ctx: ActionContext, resources: Resources) -> None:
    """Release of a stop starts the container again."""
    container = resources.container()
    outcome = await Stop().run(ctx, StopParams(timeout=1), container)
    assert outcome.undo is not None
    released = await Stop().release(ctx, outcome.undo, container.id)
    assert (released.status, released.detail) == ("restored", f"started {container.name}")
    assert status(resources, container.id) == "running"


async def test_kill_sends_the_signal_and_cannot_be_undone(
    ctx: ActionContext, resources: Resources
) -> None:
    """SIGKILL ends the container; there is no undo, and release says there is nothing to do."""
    container = resources.container()
    outcome = await Kill().run(ctx, KillParams(), container)
    assert (outcome.status, outcome.detail) == ("done", f"sent SIGKILL to {container.name}")
    assert outcome.undo is None
    wait_for(lambda: status(resources, container.id) == "exited", "the killed container to exit")
    released = await Kill().release(ctx, {}, container.id)
    assert released.status == "nothing"


async def test_kill_of_a_stopped_container_is_already(
    ctx: ActionContext, resources: Resources
) -> None:
    """Signalling a container with no process left says "already"."""
    container = resources.container()
    await Stop().run(ctx, StopParams(timeout=1), container)
    outcome = await Kill().run(ctx, KillParams(signal="term"), container)
    assert outcome.status == "already"
    assert "not running (exited)" in outcome.detail


@pytest.mark.parametrize(
    ("action", "params"),
    [(Pause(), NoParams()), (Stop(), StopParams(timeout=1)), (Kill(), KillParams())],
    ids=["pause", "stop", "kill"],
)
async def test_dry_run_leaves_the_container_running(
    dry: ActionContext, resources: Resources, action: Action, params: ActionParams
) -> None:
    """In a dry-run the step says what it would do and the container keeps running."""
    container = resources.container()
    outcome = await action.run(dry, params, container)
    assert outcome.status == "would"
    assert outcome.detail == action.describe(params, container.name)
    assert outcome.undo is None
    assert status(resources, container.id) == "running"


@pytest.mark.parametrize(
    ("action", "params"),
    [
        (Pause(), NoParams()),
        (Stop(), StopParams()),
        (Kill(), KillParams()),
        (Isolate(), IsolateParams()),
        (Snapshot(), SnapshotParams()),
    ],
    ids=["pause", "stop", "kill", "isolate", "snapshot"],
)
async def test_a_container_that_is_gone_is_a_permanent_failure(
    ctx: ActionContext, resources: Resources, action: Action, params: ActionParams
) -> None:
    """A removed container is a PermanentError (not retried) that says it no longer exists."""
    container = resources.container()
    resources.remove_container(container.id)
    with pytest.raises(PermanentError, match="no longer exists"):
        await action.run(ctx, params, container)


async def test_an_unreachable_engine_is_a_transient_failure(
    tmp_path: Path, resources: Resources
) -> None:
    """With no engine at the address, the action raises TransientError (the worker retries)."""
    container = resources.container()
    engine = SdkEngine(DockerSettings(url=f"unix://{tmp_path}/no-docker.sock", timeout=1))
    ctx = ActionContext(engine=engine, incident_id=INCIDENT, evidence_dir=tmp_path / "evidence")
    try:
        with pytest.raises(TransientError, match="unreachable"):
            await Pause().run(ctx, NoParams(), container)
    finally:
        await engine.close()
    assert status(resources, container.id) == "running"


# -- isolate -------------------------------------------------------------------------------------


class Wired(NamedTuple):
    """A container on two user-defined networks, and what it has on them."""

    ref: str
    static: str
    """The network where it has a static address, and aliases `web`, `www`."""
    address: str
    other: str
    """The network where it has the alias `api` and a link to `peer`."""
    peer: str


def two_networks(resources: Resources) -> Wired:
    """A container on two user-defined networks, with aliases, a static address and a link."""
    static, address = resources.network(subnet=True)
    other, _ = resources.network()
    peer = resources.container(networks={other: {}})
    container = resources.container(
        networks={
            static: {"aliases": ["web", "www"], "ipv4_address": address},
            other: {"aliases": ["api"], "links": [(peer.name, "peer")]},
        }
    )
    assert address is not None
    return Wired(container.id, static, address, other, peer.name)


async def test_isolate_disconnects_every_network_and_records_each_endpoint(
    ctx: ActionContext, resources: Resources
) -> None:
    """Isolate leaves every network and records aliases (without the short id), address, links."""
    ref, static, address, other, peer = two_networks(resources)
    container = resources.info(ref)
    outcome = await Isolate().run(ctx, IsolateParams(), container)
    assert outcome.status == "done"
    assert (
        outcome.detail == f"disconnected {container.name} from {', '.join(sorted([static, other]))}"
    )
    assert resources.networks_of(ref) == {}
    assert outcome.undo is not None
    recorded: Any = outcome.undo["networks"]
    assert outcome.undo["quarantine"] is None
    assert (recorded[static]["aliases"], recorded[static]["ipv4_address"]) == (
        ["web", "www"],
        address,
    )
    assert (recorded[other]["aliases"], recorded[other]["ipv4_address"]) == (["api"], None)
    assert recorded[other]["links"] == [f"{peer}:peer"]


async def test_isolate_release_restores_aliases_addresses_and_links(
    ctx: ActionContext, resources: Resources
) -> None:
    """Release reconnects each network with exactly the aliases, static address and links it had."""
    ref, static, address, other, _ = two_networks(resources)
    before = resources.networks_of(ref)
    outcome = await Isolate().run(ctx, IsolateParams(), resources.info(ref))
    assert outcome.undo is not None
    released = await Isolate().release(ctx, outcome.undo, ref)
    assert released.status == "restored"
    names = ", ".join(sorted([static, other]))
    assert released.detail == f"reconnected {resources.info(ref).name} to {names}"
    after = resources.networks_of(ref)
    assert set(after) == {static, other}
    for name in (static, other):
        assert aliases(after[name], ref) == aliases(before[name], ref)
        assert after[name]["IPAMConfig"] == before[name]["IPAMConfig"]
        assert after[name]["Links"] == before[name]["Links"]
    assert after[static]["IPAddress"] == address


async def test_isolate_release_twice_is_already(ctx: ActionContext, resources: Resources) -> None:
    """A second release finds every network connected and says "already"."""
    ref, static, _, other, _ = two_networks(resources)
    outcome = await Isolate().run(ctx, IsolateParams(), resources.info(ref))
    assert outcome.undo is not None
    await Isolate().release(ctx, outcome.undo, ref)
    again = await Isolate().release(ctx, outcome.undo, ref)
    assert again.status == "already"
    assert static in again.detail
    assert other in again.detail


async def test_isolate_of_an_isolated_container_is_already(
    ctx: ActionContext, resources: Resources
) -> None:
    """A container on no network is already isolated: nothing changes, nothing to undo."""
    network, _ = resources.network()
    container = resources.container(networks={network: {}})
    await Isolate().run(ctx, IsolateParams(), container)
    outcome = await Isolate().run(ctx, IsolateParams(), container)
    assert outcome.status == "already"
    assert outcome.detail == f"{container.name} was already isolated: it is on no network"


async def test_isolate_named_networks_leaves_the_others(
    ctx: ActionContext, resources: Resources
) -> None:
    """Only the named networks go; a named network it is not on is skipped with a note."""
    first, _ = resources.network()
    second, _ = resources.network()
    container = resources.container(networks={first: {}, second: {}})
    params = IsolateParams(networks=[first, "no-such-network"])
    outcome = await Isolate().run(ctx, params, container)
    assert outcome.status == "done"
    assert outcome.detail == (
        f"disconnected {container.name} from {first}; it was not on no-such-network"
    )
    assert set(resources.networks_of(container.id)) == {second}
    assert outcome.undo is not None
    assert set(outcome.undo["networks"]) == {first}  # type: ignore[arg-type]


async def test_isolate_creates_an_internal_quarantine_network_and_attaches_it(
    ctx: ActionContext, resources: Resources
) -> None:
    """The quarantine network is created internal and labelled, and the container is put on it."""
    network, _ = resources.network()
    container = resources.container(networks={network: {}})
    quarantine = resources.name("quarantine")
    resources.adopt_network(quarantine)
    outcome = await Isolate().run(ctx, IsolateParams(quarantine_network=quarantine), container)
    assert outcome.detail == f"disconnected {container.name} from {network}; attached {quarantine}"
    assert outcome.undo is not None
    assert outcome.undo["quarantine"] == quarantine
    assert set(resources.networks_of(container.id)) == {quarantine}
    created = resources.api.inspect_network(quarantine)
    assert created["Internal"] is True
    assert created["Driver"] == "bridge"
    assert created["Labels"] == {QUARANTINE_LABEL: "true"}


async def test_isolate_on_the_quarantine_network_only_is_already(
    ctx: ActionContext, resources: Resources
) -> None:
    """A container already on the quarantine network alone is already isolated."""
    network, _ = resources.network()
    container = resources.container(networks={network: {}})
    quarantine = resources.name("quarantine")
    resources.adopt_network(quarantine)
    params = IsolateParams(quarantine_network=quarantine)
    await Isolate().run(ctx, params, container)
    outcome = await Isolate().run(ctx, params, container)
    assert outcome.status == "already"
    assert outcome.detail == f"{container.name} was already isolated: it is only on {quarantine}"


async def test_isolate_release_leaves_the_quarantine_network(
    ctx: ActionContext, resources: Resources
) -> None:
    """Release detaches the quarantine network and reconnects the original one."""
    network, _ = resources.network()
    container = resources.container(networks={network: {}})
    quarantine = resources.name("quarantine")
    resources.adopt_network(quarantine)
    outcome = await Isolate().run(ctx, IsolateParams(quarantine_network=quarantine), container)
    assert outcome.undo is not None
    released = await Isolate().release(ctx, outcome.undo, container.id)
    assert released.status == "restored"
    assert f"detached {container.name} from {quarantine}" in released.detail
    assert set(resources.networks_of(container.id)) == {network}


async def test_isolate_refuses_a_quarantine_network_that_is_not_internal(
    ctx: ActionContext, resources: Resources
) -> None:
    """A quarantine name taken by an ordinary network is refused before anything changes."""
    network, _ = resources.network()
    ordinary, _ = resources.network()
    container = resources.container(networks={network: {}})
    with pytest.raises(PermanentError, match="not internal"):
        await Isolate().run(ctx, IsolateParams(quarantine_network=ordinary), container)
    assert set(resources.networks_of(container.id)) == {network}


async def test_isolate_release_reports_a_deleted_network_and_restores_the_rest(
    ctx: ActionContext, resources: Resources
) -> None:
    """A network deleted since isolation is named as not restored; the others come back."""
    first, _ = resources.network()
    second, _ = resources.network()
    container = resources.container(networks={first: {}, second: {}})
    outcome = await Isolate().run(ctx, IsolateParams(), container)
    assert outcome.undo is not None
    resources.api.remove_network(first)
    released = await Isolate().release(ctx, outcome.undo, container.id)
    assert released.status == "failed"
    assert released.detail == (
        f"reconnected {container.name} to {second}; "
        f"could not restore: {first} (the network no longer exists)"
    )
    assert set(resources.networks_of(container.id)) == {second}


async def test_isolate_release_reports_a_static_address_taken_meanwhile(
    ctx: ActionContext, resources: Resources
) -> None:
    """A static address another container took is reported, and the container is not broken."""
    network, address = resources.network(subnet=True)
    container = resources.container(networks={network: {"ipv4_address": address}})
    outcome = await Isolate().run(ctx, IsolateParams(), container)
    assert outcome.undo is not None
    squatter = resources.container(networks={network: {"ipv4_address": address}})
    released = await Isolate().release(ctx, outcome.undo, container.id)
    assert released.status == "failed"
    assert f"{network} (address {address} is taken by {squatter.name})" in released.detail
    resources.api.restart(container.id, timeout=0)  # no half-made endpoint left behind
    assert status(resources, container.id) == "running"


async def test_isolate_host_network_mode_is_a_permanent_failure(
    ctx: ActionContext, resources: Resources
) -> None:
    """A container on the host's network stack cannot be isolated: PermanentError, clearly."""
    container = resources.container(network_mode="host")
    with pytest.raises(PermanentError, match="network mode host: cannot isolate"):
        await Isolate().run(ctx, IsolateParams(), container)


async def test_isolate_network_mode_none_is_already(
    ctx: ActionContext, resources: Resources
) -> None:
    """A container with network mode none has no network to leave: "already"."""
    container = resources.container(network_mode="none")
    outcome = await Isolate().run(ctx, IsolateParams(), container)
    assert outcome.status == "already"
    assert "network mode none" in outcome.detail


async def test_isolate_dry_run_leaves_the_networks_unchanged(
    dry: ActionContext, resources: Resources
) -> None:
    """In a dry-run isolate only says what it would do."""
    ref, static, _, other, _ = two_networks(resources)
    quarantine = resources.name("quarantine")
    params = IsolateParams(quarantine_network=quarantine)
    outcome = await Isolate().run(dry, params, resources.info(ref))
    assert (outcome.status, outcome.undo) == ("would", None)
    assert outcome.detail == Isolate().describe(params, resources.info(ref).name)
    assert set(resources.networks_of(ref)) == {static, other}
    with pytest.raises(docker.errors.NotFound):
        resources.api.inspect_network(quarantine)


async def test_isolate_after_an_interrupted_attempt_still_records_what_that_attempt_took(
    ctx: ActionContext, resources: Resources
) -> None:
    """A retried isolate keeps the endpoints an earlier attempt of the step disconnected."""
    first, _ = resources.network()
    second, _ = resources.network()
    container = resources.container(networks={first: {"aliases": ["db"]}, second: {}})
    await Isolate().run(ctx, IsolateParams(networks=[first]), container)  # the interrupted attempt
    outcome = await Isolate().run(ctx, IsolateParams(), container)
    assert outcome.undo is not None
    recorded: Any = outcome.undo["networks"]
    assert set(recorded) == {first, second}
    assert recorded[first]["aliases"] == ["db"]


# -- snapshot ------------------------------------------------------------------------------------

TALKER = ["sh", "-c", "echo to-stdout; echo to-stderr >&2; touch /dropped; exec sleep 300"]


def talker(resources: Resources, **host: Any) -> str:
    """A container that has written to both streams and changed its filesystem."""
    container = resources.container(command=TALKER, **host)
    wait_for(
        lambda: resources.exec(container.id, ["sh", "-c", "test -e /dropped"]) == 0,
        "the container to write its logs and its file",
    )
    return container.id


async def test_snapshot_manifest_hashes_match_the_files(
    ctx: ActionContext, resources: Resources
) -> None:
    """Every artifact in the manifest re-hashes to its recorded sha256 and size; so does the manifest."""
    ref = talker(resources)
    outcome = await Snapshot().run(ctx, SnapshotParams(export=True), resources.info(ref))
    assert outcome.status == "done"
    assert [a.kind for a in outcome.artifacts] == ["top", "inspect", "logs", "diff", "export"]
    manifest = check_manifest(ctx.evidence_dir, outcome)
    for artifact in manifest["artifacts"]:
        assert artifact["collected_at"].endswith("+00:00")
        assert artifact["collected_by"].startswith("docker:snapshot (GET /containers/{id}/")


async def test_snapshot_manifest_names_the_container_incident_and_versions(
    ctx: ActionContext, resources: Resources
) -> None:
    """The manifest says which container, which incident, and which responder and Docker."""
    ref = talker(resources)
    outcome = await Snapshot().run(ctx, SnapshotParams(), resources.info(ref))
    manifest = manifest_of(outcome.data)
    assert manifest["incident_id"] == INCIDENT
    assert manifest["versions"] == {"responder": __version__, "docker": "test"}
    attrs = resources.inspect(ref)
    assert manifest["container"]["id"] == attrs["Id"]
    assert manifest["container"]["name"] == attrs["Name"][1:]
    assert manifest["container"]["image"] == resources.image
    assert manifest["errors"] == []


async def test_snapshot_evidence_is_private_to_the_responder(
    ctx: ActionContext, resources: Resources
) -> None:
    """The evidence directory is mode 0700 and its files 0600, with no partial files left."""
    ref = talker(resources)
    await Snapshot().run(ctx, SnapshotParams(export=True), resources.info(ref))
    assert stat.S_IMODE(ctx.evidence_dir.stat().st_mode) == 0o700
    files = sorted(p.name for p in ctx.evidence_dir.iterdir())
    assert files == [
        "diff.json",
        "export.tar",
        "inspect.json",
        "logs.txt",
        "manifest.json",
        "top.json",
    ]
    for name in files:
        assert stat.S_IMODE((ctx.evidence_dir / name).stat().st_mode) == 0o600


async def test_snapshot_logs_have_timestamps_and_both_streams(
    ctx: ActionContext, resources: Resources
) -> None:
    """Logs hold stdout and stderr, each line starting with its timestamp."""
    ref = talker(resources)
    await Snapshot().run(ctx, SnapshotParams(top=False, diff=False), resources.info(ref))
    lines = (ctx.evidence_dir / "logs.txt").read_text().splitlines()
    assert sorted(line.split(" ", 1)[1] for line in lines) == ["to-stderr", "to-stdout"]
    assert all(line[:4].isdigit() and "T" in line.split(" ", 1)[0] for line in lines)


async def test_snapshot_diff_and_top_show_the_container_as_it_is(
    ctx: ActionContext, resources: Resources
) -> None:
    """The diff lists the file the container made; top lists its process."""
    ref = talker(resources)
    await Snapshot().run(ctx, SnapshotParams(logs=False), resources.info(ref))
    diff = json.loads((ctx.evidence_dir / "diff.json").read_text())
    assert {"Path": "/dropped", "Kind": 1} in diff
    top = json.loads((ctx.evidence_dir / "top.json").read_text())
    assert any("sleep 300" in " ".join(process) for process in top["Processes"])


async def test_snapshot_of_a_paused_container_still_lists_its_processes(
    ctx: ActionContext, resources: Resources
) -> None:
    """A paused container's processes can still be listed, so top is collected."""
    container = resources.container()
    resources.api.pause(container.id)
    outcome = await Snapshot().run(ctx, SnapshotParams(), container)
    assert "top" in [a.kind for a in outcome.artifacts]


async def test_snapshot_export_is_a_tar_of_the_filesystem(
    ctx: ActionContext, resources: Resources
) -> None:
    """The export is a tar that lists the container's files, busybox among them."""
    container = resources.container()
    outcome = await Snapshot().run(ctx, SnapshotParams(export=True), container)
    export = next(a for a in outcome.artifacts if a.kind == "export")
    assert export.truncated is False
    assert "bin/busybox" in tar_names(ctx.evidence_dir / "export.tar")


async def test_snapshot_export_is_cut_at_the_cap_and_marked(
    ctx: ActionContext, resources: Resources
) -> None:
    """An export larger than max_bytes stops at exactly max_bytes and is marked truncated."""
    container = resources.container()
    params = SnapshotParams(export=True, max_bytes=ByteSize(4096))
    outcome = await Snapshot().run(ctx, params, container)
    export = next(a for a in outcome.artifacts if a.kind == "export")
    assert (export.truncated, export.size) == (True, 4096)
    assert (ctx.evidence_dir / "export.tar").stat().st_size == 4096
    assert sha256_of(ctx.evidence_dir / "export.tar") == export.sha256
    assert "export (cut at 4096 bytes)" in outcome.detail


async def test_snapshot_commit_tags_an_image_with_the_incident(
    ctx: ActionContext, resources: Resources
) -> None:
    """Commit makes an image tagged with the incident; its id is the artifact's digest."""
    container = resources.container()
    ref = f"responder-evidence/{container.name}:{INCIDENT.lower()}"
    resources.adopt_image(ref)
    outcome = await Snapshot().run(ctx, SnapshotParams(commit=True), container)
    commit = next(a for a in outcome.artifacts if a.kind == "commit")
    image = resources.client.images.get(ref).attrs
    assert commit.name == f"image:{ref}"
    assert commit.sha256 == image["Id"].removeprefix("sha256:")
    assert commit.size == image["Size"]
    assert commit.collected_by == "docker:snapshot (POST /commit)"


async def test_snapshot_dry_run_collects_only_the_read_only_parts(
    dry: ActionContext, resources: Resources
) -> None:
    """A dry-run keeps top, inspect, logs and diff, but neither exports nor commits."""
    container = resources.container()
    params = SnapshotParams(export=True, commit=True)
    outcome = await Snapshot().run(dry, params, container)
    assert outcome.status == "would"
    assert [a.kind for a in outcome.artifacts] == ["top", "inspect", "logs", "diff"]
    assert "would export and commit" in outcome.detail
    assert not (dry.evidence_dir / "export.tar").exists()
    assert manifest_of(outcome.data)["not_collected"] == {"export": "dry-run", "commit": "dry-run"}
    with pytest.raises(docker.errors.ImageNotFound):
        resources.client.images.get(f"responder-evidence/{container.name}:{INCIDENT.lower()}")
    assert status(resources, container.id) == "running"


async def test_snapshot_records_a_part_that_fails_and_keeps_the_rest(
    ctx: ActionContext, resources: Resources
) -> None:
    """Logs from a container without a readable log driver are an error in the manifest, not a failure."""
    ref = talker(resources, log_config={"type": "none"})
    outcome = await Snapshot().run(ctx, SnapshotParams(), resources.info(ref))
    assert outcome.status == "done"
    assert [a.kind for a in outcome.artifacts] == ["top", "inspect", "diff"]
    errors = manifest_of(outcome.data)["errors"]
    assert [e["part"] for e in errors] == ["logs"]
    assert "does not support reading" in errors[0]["error"]
    assert "not collected: logs" in outcome.detail
    assert not (ctx.evidence_dir / "logs.txt").exists()


async def test_snapshot_that_collects_nothing_is_a_permanent_failure(
    ctx: ActionContext, resources: Resources
) -> None:
    """When every selected part fails, the step fails (the manifest still records why)."""
    container = resources.container(log_config={"type": "none"})
    resources.api.stop(container.id, timeout=0)
    params = SnapshotParams(inspect=False, diff=False)
    with pytest.raises(PermanentError, match="collected nothing"):
        await Snapshot().run(ctx, params, container)
    errors = json.loads((ctx.evidence_dir / "manifest.json").read_text())["errors"]
    assert [e["part"] for e in errors] == ["top", "logs"]


async def test_snapshot_while_an_earlier_attempt_still_writes_is_transient(
    ctx: ActionContext, resources: Resources
) -> None:
    """A retry that finds the evidence directory locked by a timed-out attempt waits (transient)."""
    container = resources.container()
    ctx.evidence_dir.mkdir(parents=True)
    held = os.open(ctx.evidence_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(TransientError, match="still writing"):
            await Snapshot().run(ctx, SnapshotParams(), container)
    finally:
        os.close(held)
    assert list(ctx.evidence_dir.iterdir()) == []


def test_snapshot_with_no_part_selected_is_refused_at_load() -> None:
    """A snapshot step that selects nothing is a parameter error, caught when playbooks load."""
    with pytest.raises(ValueError, match="select at least one"):
        SnapshotParams(top=False, inspect=False, logs=False, diff=False)
