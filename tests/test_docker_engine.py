"""The Docker engine this suite runs against, and our one seam onto it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from responder.engine import SdkEngine
from responder.errors import TransientError
from responder.settings import DockerSettings

if TYPE_CHECKING:
    from pathlib import Path

    import docker


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
