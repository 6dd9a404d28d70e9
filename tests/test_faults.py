"""Faults on a real engine: the daemon going away mid-incident, and kill -9 of the server mid-incidents."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tarfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from _faults import (
    ACTIONS,
    FALCO,
    DockerProxy,
    ServeProcess,
    check_evidence,
    poll,
    post_falco,
    read_incidents,
    shell,
    write_playbook,
)

from responder.incidents import INCIDENTS_FILE, IncidentStore
from responder.journal import JOURNAL_FILE, EventQuery, JournalReader
from responder.settings import DockerSettings, Limits, Settings
from responder.web.state import INCIDENTS, WORKER

if TYPE_CHECKING:
    from pathlib import Path

    from _docker import Resources
    from aiohttp.test_utils import TestClient
    from aiohttp.web import Application
    from conftest import ClientFactory

    from responder.engine import ContainerInfo
    from responder.incidents import IncidentRecord

pytestmark = pytest.mark.docker

FAST = Limits(
    retries=2,
    retry_backoff=timedelta(milliseconds=200),
    retry_backoff_max=timedelta(milliseconds=400),
    step_timeout=timedelta(seconds=5),
)
# Two incidents at a time, so that some wait their turn while others are half done at the kill.
KILL_CONFIG = """\
limits:
  max_containments: 50
  concurrency: 2
  retries: 1
  retry_backoff: 50ms
  retry_backoff_max: 200ms
  step_timeout: 30s
"""
KILLED_CONTAINERS = 6
BLOB_BYTES = 32 << 20  # each container's data: its export takes a while, not long


async def settle(client: TestClient[Any, Application]) -> None:
    """Wait (bounded) until the worker has dispatched and finished everything."""
    async with asyncio.timeout(60):
        await client.app[WORKER].idle()


async def incidents_of(client: TestClient[Any, Application]) -> list[IncidentRecord]:
    """Every incident with its steps, newest first."""
    store = client.app[INCIDENTS]
    found = []
    for row in await store.run(lambda s: s.list(100)):
        record = await store.run(partial(IncidentStore.get, incident_id=row.id))
        assert record is not None
        found.append(record)
    return found


# docker-py leaks the socket of every refused Unix-socket connect until it is collected
# (docker/docker-py#3356); responder.engine.probe_socket avoids that only when making the client.
@pytest.mark.fault("engine socket gone mid-incident")
@pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <socket\.socket .*family=1:pytest.PytestUnraisableExceptionWarning"
)
async def test_daemon_gone_mid_incident_is_retried_then_failed_and_the_server_serves_on(
    make_client: ClientFactory, settings: Settings, resources: Resources, tmp_path: Path
) -> None:
    """Engine gone in the first step: retried, failed, recorded; serving goes on; back, it contains."""
    network, _ = resources.network()
    target = resources.container(networks={network: {}})
    later = resources.container(networks={network: {}})
    playbooks = write_playbook(settings.playbooks, export=False)
    full_id = resources.inspect(target.id)["Id"]
    async with DockerProxy(tmp_path / "docker.sock") as proxy:
        # The snapshot's first call about the target's processes is where the engine dies.
        proxy.cut_on(f"/containers/{full_id}/top".encode())
        docker_settings = DockerSettings(url=proxy.url, timeout=5)
        client = await make_client(playbooks=playbooks, limits=FAST, docker=docker_settings)

        assert (await client.post(FALCO, json=shell(target))).status == 202
        async with asyncio.timeout(30):
            await proxy.cut.wait()
        [during] = await incidents_of(client)
        # cut inside its first step: at most that step's "pending" record exists
        assert during.state == "running"
        assert [s.status for s in during.steps] in ([], ["pending"])
        await settle(client)

        [failed] = await incidents_of(client)
        assert failed.state == "failed"
        assert failed.finished_at is not None
        step, *rest = failed.steps
        assert (step.action, step.status) == ("docker:snapshot", "failed")
        assert [(r.status, r.detail) for r in rest] == [
            ("skipped", "skipped: not run: step 1 (docker:snapshot) failed")
        ] * 2
        assert step.attempts == FAST.retries + 1
        waited = FAST.retry_backoff + min(2 * FAST.retry_backoff, FAST.retry_backoff_max)
        assert step.duration_ms is not None
        assert step.duration_ms >= 0.95 * waited.total_seconds() * 1000  # it did back off twice
        assert step.detail.startswith("gave up after retries: Docker engine unreachable"), step
        left = resources.inspect(target.id)
        assert left["State"]["Status"] == "running"
        assert list(left["NetworkSettings"]["Networks"]) == [network]

        assert (await client.get("/healthz")).status == 200
        ready = await client.get("/readyz")
        assert ready.status == 503
        assert (await ready.json())["failing"] == ["docker"]
        unrelated = {"rule": "Unrelated rule", "priority": "Notice", "output": "while down"}
        assert (await client.post(FALCO, json=unrelated)).status == 202
        await settle(client)

        await proxy.start()
        assert (await client.get("/readyz")).status == 200
        assert (await client.post(FALCO, json=shell(later))).status == 202
        await settle(client)
        by_target = {incident.target: incident for incident in await incidents_of(client)}
        assert by_target[target.id].state == "failed"
        contained = by_target[later.id]
        assert contained.state == "contained", contained.steps
        assert [s.status for s in contained.steps] == ["done", "done", "done"]
        assert resources.inspect(later.id)["State"]["Paused"] is True


@pytest.mark.fault("engine socket gone before the incident")
async def test_engine_down_at_the_start_defers_the_alert_until_it_answers_then_contains(
    make_client: ClientFactory, settings: Settings, resources: Resources, tmp_path: Path
) -> None:
    """Regression: an unreachable engine was taken for a missing container.

    The failed incident then swallowed every repeat for the whole cooldown. Now the alert
    waits (deferred, shown by readiness) until the engine answers, and is then acted on; a
    repeat joins the incident it opened.
    """
    network, _ = resources.network()
    target = resources.container(networks={network: {}})
    playbooks = write_playbook(settings.playbooks, export=False)
    async with DockerProxy(tmp_path / "docker.sock") as proxy:
        client = await make_client(
            playbooks=playbooks, limits=FAST, docker=DockerSettings(url=proxy.url, timeout=5)
        )
        await proxy.stop()
        assert (await client.post(FALCO, json=shell(target))).status == 202
        await settle(client)
        assert await incidents_of(client) == []
        worker = client.app[WORKER]
        assert (await worker.health())["deferred"] == 1
        answer = await (await client.get("/readyz")).json()
        assert "docker" in answer["failing"]

        await proxy.start()
        await until_dispatched(client)
        repeat = shell(target) | {"output": "again, after the engine came back"}
        assert (await client.post(FALCO, json=repeat)).status == 202
        await settle(client)
        [incident] = await incidents_of(client)
        assert incident.state == "contained"
        assert incident.event_count == 2
        assert resources.inspect(target.id)["State"]["Paused"] is True


async def until_dispatched(client: TestClient[Any, Application]) -> None:
    """Wait (bounded) until the worker has no deferred event left, and has settled."""
    worker = client.app[WORKER]
    deadline = time.monotonic() + 60
    while (await worker.health())["deferred"]:
        assert time.monotonic() < deadline, "deferred events still waiting after 60 s"
        await asyncio.sleep(0.05)
    await settle(client)


def _blob() -> bytes:
    """A tar holding one file of random bytes, to put into each container."""
    buffer = io.BytesIO()
    data = os.urandom(BLOB_BYTES)
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        member = tarfile.TarInfo("blob")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


async def _repeat(
    session: aiohttp.ClientSession, url: str, targets: list[ContainerInfo], acked: list[str]
) -> None:
    """Repeat events about the targets until the server stops answering."""
    for n in range(1, 100_000):
        try:
            acked.extend(await post_falco(session, url, shell(targets[n % len(targets)], n)))
        except (aiohttp.ClientError, TimeoutError):
            return
        await asyncio.sleep(0.01)


def _started(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["started_at"])


@dataclass
class Killed:
    """What the test saw before the kill: the events acknowledged and the incident store."""

    acked: list[str]
    before: dict[str, dict[str, Any]]
    half: str
    """An incident that had recorded its first step, not its second."""
    at: datetime


async def _post_then_kill(server: ServeProcess, targets: list[ContainerInfo]) -> Killed:
    """One event per target, repeats meanwhile; SIGKILL once an incident is half done."""
    store = server.data_dir / INCIDENTS_FILE

    def half_done() -> tuple[str, dict[str, dict[str, Any]]] | None:
        incidents = read_incidents(store)
        for incident_id, incident in incidents.items():
            steps = incident["steps"]
            finished_first = 0 in steps and steps[0]["status"] != "pending"
            second_open = 1 not in steps or steps[1]["status"] == "pending"
            if incident["state"] == "running" and finished_first and second_open:
                return incident_id, incidents
        return None

    acked: list[str] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for target in targets:
            ids = await post_falco(session, server.url, shell(target))
            assert ids, f"the event about {target.name} was not accepted"
            acked.extend(ids)
        repeats = asyncio.create_task(_repeat(session, server.url, targets, acked))
        half, before = await poll("an incident half done", half_done, 60)
        server.kill()
        killed = Killed(acked, before, half, datetime.now(UTC))
        async with asyncio.timeout(15):
            await repeats
    return killed


async def _restart_until_finished(server: ServeProcess) -> tuple[dict[str, Any], set[str]]:
    """Start again on the same data; every incident and the journaled event ids once all finished."""
    await asyncio.to_thread(server.start)
    journal = JournalReader(server.data_dir / JOURNAL_FILE)

    def finished() -> dict[str, dict[str, Any]] | None:
        incidents = read_incidents(server.data_dir / INCIDENTS_FILE)
        journaled = journal.events(EventQuery(limit=1_000_000))
        counted = sum(incident["event_count"] for incident in incidents.values())
        running = [i for i in incidents.values() if i["state"] == "running"]
        all_in = len(incidents) == KILLED_CONTAINERS and counted == len(journaled)
        return incidents if all_in and not running else None

    try:
        final = await poll("every incident final and every event counted once", finished, 90)
        journaled = {row.id for row in journal.events(EventQuery(limit=1_000_000))}
    finally:
        journal.close()
    return final, journaled


@pytest.mark.fault("kill -9 mid-incident")
async def test_kill_9_mid_incidents_then_restart_resumes_every_one_to_containment(
    resources: Resources, tmp_path: Path
) -> None:
    """SIGKILL with incidents half done; after restart each resumes and its container ends contained."""
    network, _ = resources.network()
    targets = [resources.container(networks={network: {}}) for _ in range(KILLED_CONTAINERS)]
    blob = _blob()
    for target in targets:
        resources.api.put_archive(target.id, "/tmp", blob)  # noqa: S108 - inside the container
    config = tmp_path / "responder.yaml"
    config.write_text(KILL_CONFIG)
    playbooks = write_playbook(tmp_path / "playbooks", export=True)
    server = ServeProcess(tmp_path / "data", playbooks, config, tmp_path)
    try:
        await asyncio.to_thread(server.start)
        killed = await _post_then_kill(server, targets)
        final, journaled = await _restart_until_finished(server)
    finally:
        server.stop()

    assert not set(killed.acked) - journaled, "events acknowledged before the kill were lost"
    assert sorted(i["container_id"] for i in final.values()) == sorted(t.id for t in targets)
    for incident_id, incident in final.items():
        steps = incident["steps"]
        assert incident["state"] == "contained", (incident_id, steps, server.log.read_text())
        assert [steps[i]["action"] for i in sorted(steps)] == ACTIONS
        assert steps[0]["status"] == "done"
        assert {steps[1]["status"], steps[2]["status"]} <= {"done", "already"}, steps
        for index, record in killed.before.get(incident_id, {"steps": {}})["steps"].items():
            if record["status"] == "pending":  # in flight at the kill: resumed, so it changes
                continue
            assert steps[index] == record, f"step {index} of {incident_id} changed after restart"
        check_evidence(server.data_dir / "evidence" / incident_id)
    resumed = final[killed.half]["steps"]
    assert _started(resumed[0]) < killed.at < _started(resumed[2]), "not resumed where it stopped"
    for target in targets:
        state = resources.inspect(target.id)
        assert state["State"]["Paused"] is True, target.name
        assert state["NetworkSettings"]["Networks"] == {}, target.name
    shutil.rmtree(server.data_dir / "evidence")  # the exports: hundreds of MB kept in tmp otherwise
