"""The Docker engine this suite runs against, and our one seam onto it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from responder.actions._containers import live
from responder.engine import SdkEngine, is_container_ref, not_found
from responder.errors import PermanentError, TransientError
from responder.journal import Target
from responder.settings import DockerSettings

if TYPE_CHECKING:
    from pathlib import Path

    import docker
    from _docker import Resources


@pytest.mark.docker
def test_local_image_runs_a_container_that_can_be_inspected_and_removed(
    docker_client: docker.DockerClient, test_image: str
) -> None:
    """An image imported without a registry runs; the container is inspected, then removed."""
    container = docker_client.containers.run(
        test_image,
        ["sh", "-c", "echo ready; sleep 30"],
        detach=True,
        labels={"responder.test": "engine"},
    )
    try:
        container.reload()
        assert container.status == "running"
        assert container.labels["responder.test"] == "engine"
        assert container.attrs["Config"]["Image"] == test_image
        assert b"ready" in container.logs()
    finally:
        container.remove(force=True)
    remaining = docker_client.containers.list(all=True, filters={"label": "responder.test=engine"})
    assert remaining == []


@pytest.mark.docker
async def test_engine_seam_pings_and_reads_the_version() -> None:
    """The SDK runs off the event loop and negotiates the engine's API version."""
    engine = SdkEngine(DockerSettings())
    try:
        await engine.ping()
        version = await engine.version()
    finally:
        await engine.close()
    assert "ApiVersion" in version


async def test_engine_seam_reports_a_missing_socket_as_transient(tmp_path: Path) -> None:
    """No engine at the address is a transient fault that names the address."""
    engine = SdkEngine(DockerSettings(url=f"unix://{tmp_path}/docker.sock", timeout=1))
    try:
        with pytest.raises(TransientError, match="unreachable at unix://"):
            await engine.ping()
    finally:
        await engine.close()


@pytest.mark.parametrize(
    "ref",
    ["web-1", "/web-1", "payments_api.v2", "0123456789ab", "a" * 64, "k8s_app_pod-7f9_ns_uid_0"],
)
def test_docker_names_and_ids_are_container_references(ref: str) -> None:
    """What Docker accepts as a container name, an id or an id prefix may be looked up."""
    assert is_container_ref(ref)
    assert not_found(ref) == f"container {ref!r} not found on the engine"


@pytest.mark.parametrize(
    "ref",
    ["", "web/../db", "../containers/db", "db/json?", "web 1", "web\n", "-web", ".web", "a" * 257],
)
def test_text_that_is_no_docker_name_is_not_a_container_reference(ref: str) -> None:
    """Path segments, spaces, control characters: the engine is never asked, and the reason says so."""
    assert not is_container_ref(ref)
    assert "is not a Docker container name or id" in not_found(ref)


@pytest.mark.docker
async def test_engine_seam_does_not_let_a_path_in_a_reference_reach_another_container(
    engine: SdkEngine, resources: Resources
) -> None:
    """`a/../b` would be cleaned by the engine into `b`: the seam and the actions refuse it."""
    victim, decoy = resources.container(), resources.container()
    crafted = f"{decoy.name}/../{victim.name}"
    assert await engine.resolve(Target(name=victim.name)) is not None
    assert await engine.resolve(Target(name=crafted)) is None
    assert await engine.resolve(Target(name=f"../../images/{resources.image}")) is None
    assert await engine.container(crafted) is None
    with pytest.raises(PermanentError, match="is not a Docker container name or id"):
        await engine.run(lambda client: live(client, crafted))
