"""Liveness, readiness with its four checks, and metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from responder.settings import DockerSettings

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import ClientFactory


async def test_healthz_answers_ok(make_client: ClientFactory) -> None:
    """The process is alive."""
    client = await make_client()
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json()) == {"status": "ok"}


@pytest.mark.docker
async def test_readyz_is_200_when_journal_docker_and_playbooks_are_fine(
    make_client: ClientFactory,
) -> None:
    """All four checks pass against the real engine."""
    client = await make_client()
    response = await client.get("/readyz")
    answer = await response.json()
    assert response.status == 200, answer
    assert answer["failing"] == []
    assert set(answer["checks"]) == {"journal", "docker", "worker", "playbooks"}


async def test_readyz_says_docker_is_unreachable(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    """With no engine at the configured address, readiness is 503 and names the docker check."""
    client = await make_client(docker=DockerSettings(url=f"unix://{tmp_path}/no.sock", timeout=1))
    response = await client.get("/readyz")
    assert response.status == 503
    answer = await response.json()
    assert answer["failing"] == ["docker"]
    assert "unreachable" in answer["checks"]["docker"]["error"]


async def test_readyz_counts_loaded_playbook_files(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    """The playbooks check reports the directory and what was loaded from it."""
    (tmp_path / "playbooks").mkdir()
    steps = "match: {}\nsteps: [{action: docker:pause}]\n"
    (tmp_path / "playbooks" / "a.yaml").write_text(f"name: a\n{steps}---\nname: b\n{steps}")
    client = await make_client()
    answer = await (await client.get("/readyz")).json()
    assert answer["checks"]["playbooks"]["files"] == 1
    assert answer["checks"]["playbooks"]["playbooks"] == 2


async def test_metrics_are_prometheus_text(make_client: ClientFactory) -> None:
    """`/metrics` is the Prometheus exposition format with our families."""
    client = await make_client()
    response = await client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert "# TYPE responder_events_received_total counter" in text
    assert "# TYPE responder_journal_commit_seconds histogram" in text
