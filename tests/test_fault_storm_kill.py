"""kill -9 of the real server in a storm, with events arriving and incidents in their steps.

`CONTAINERS` busybox containers on a network of their own; `responder serve` with the
snapshot (small: no export), isolate, pause playbook, four incidents at a time; `CLIENTS`
concurrent clients posting unique Falco events about the containers, round robin. The server
is killed (SIGKILL) while the clients are still being acknowledged and while incidents are in
their steps, with more waiting their turn; then it is started again on the same data.

After the restart: every event acknowledged before the kill is in the journal; each container
has exactly one incident, `contained`, and is paused and on no network; each incident has one
evidence directory whose files match its manifest; on the engine's event stream each container
was paused once and never unpaused or reconnected. Events posted after the restart join the
open incidents as repeats and change nothing. Releasing some incidents puts their containers
back on the network the isolate step recorded, and the audit chain verifies.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from _docker import EngineEvents
from _faults import (
    ACTIONS,
    ServeProcess,
    audit_verify,
    check_evidence,
    journaled_ids,
    poll,
    post_falco,
    read_incidents,
    shell,
    write_playbook,
)

from responder.incidents import INCIDENTS_FILE

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from _docker import Resources

    from responder.containers import ContainerInfo

pytestmark = [pytest.mark.docker, pytest.mark.fault("kill -9 under storm")]

CONTAINERS = 16
CLIENTS = 16
PAUSE_S = 0.002  # between one client's posts: a storm, not a busy loop on two CPUs
REPEATS = 2  # events per container posted after the restart
RELEASED = 3
ADMIN_TOKEN = "storm-kill-admin-token-0123456789"
# Four incidents at a time: at the kill some are contained, some in their steps, some waiting.
CONFIG = """\
limits:
  max_containments: 100
  window: 1h
  concurrency: 4
  retries: 1
  retry_backoff: 50ms
  retry_backoff_max: 200ms
  step_timeout: 30s
"""


@dataclass
class Storm:
    """What the clients saw: the ids acknowledged, anything else answered, how each ended."""

    targets: list[ContainerInfo]
    sequence: Iterator[int] = field(default_factory=itertools.count)
    """Shared by the clients: event n is about container n modulo their number."""
    acked: list[str] = field(default_factory=list)
    per_target: Counter[str] = field(default_factory=Counter)
    """Events acknowledged about each container."""
    refused: int = 0
    """Answers other than 202 (none expected: every body is new and the journal writable)."""
    ended: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Kill:
    """The state at the kill, read from the store the dead server left."""

    acked: frozenset[str]
    incidents: dict[str, dict[str, Any]]
    clients_running: int
    at: datetime

    def running(self, *, started: bool) -> list[str]:
        """Incidents not finished at the kill: in their steps (`started`) or waiting their turn."""
        return [
            incident_id
            for incident_id, incident in self.incidents.items()
            if incident["state"] == "running" and bool(incident["steps"]) is started
        ]


async def _client(session: aiohttp.ClientSession, url: str, storm: Storm) -> None:
    """Post unique events about the targets, round robin, until the server stops answering."""
    for n in storm.sequence:
        target = storm.targets[n % len(storm.targets)]
        try:
            ids = await post_falco(session, url, shell(target, n))
        except (aiohttp.ClientError, TimeoutError) as exc:
            storm.ended.append(type(exc).__name__)
            return
        storm.acked.extend(ids)
        storm.per_target[target.id] += bool(ids)
        storm.refused += not ids
        await asyncio.sleep(PAUSE_S)


async def _storm_then_kill(server: ServeProcess, targets: list[ContainerInfo]) -> Kill:
    """Start the clients; SIGKILL once incidents are in their steps and events still arrive."""
    store = server.data_dir / INCIDENTS_FILE
    storm = Storm(targets)

    def ready_to_kill() -> bool | None:
        several = len(storm.per_target) == len(targets) and min(storm.per_target.values()) >= 2
        if not several or not store.exists():
            return None
        incidents = read_incidents(store)
        states = Counter(
            "running, in steps" if i["state"] == "running" and i["steps"] else i["state"]
            for i in incidents.values()
        )
        # Some done, some in their steps, some waiting: each kind must come through the restart.
        enough = states["contained"] >= 4 and states["running"] >= 2
        return True if enough and states["running, in steps"] else None

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        clients = [asyncio.create_task(_client(session, server.url, storm)) for _ in range(CLIENTS)]
        try:
            await poll("incidents in their steps under the storm", ready_to_kill, 60)
            before = len(storm.acked)
            await poll("another acknowledgement", lambda: len(storm.acked) > before or None, 10)
            running = sum(not client.done() for client in clients)
            at = datetime.now(UTC)
            server.kill()
        finally:
            server.kill()  # also when a wait failed: the clients end when the server does
            async with asyncio.timeout(15):
                await asyncio.gather(*clients, return_exceptions=True)
    assert storm.refused == 0, f"{storm.refused} events were answered other than 202"
    assert len(storm.ended) == CLIENTS, storm.ended
    return Kill(frozenset(storm.acked), read_incidents(store), running, at)


async def _restart_until_contained(server: ServeProcess, expected: int) -> dict[str, Any]:
    """Start again on the same data; the incidents once all are final and count every event."""
    await asyncio.to_thread(server.start)

    def finished() -> dict[str, dict[str, Any]] | None:
        incidents = read_incidents(server.data_dir / INCIDENTS_FILE)
        counted = sum(incident["event_count"] for incident in incidents.values())
        if len(incidents) != expected or counted != len(journaled_ids(server.data_dir)):
            return None
        return None if any(i["state"] == "running" for i in incidents.values()) else incidents

    return await poll("every incident final and every event counted once", finished, 60)


def _check_contained(
    final: dict[str, dict[str, Any]], killed: Kill, targets: list[ContainerInfo], data_dir: Path
) -> None:
    """One incident per container, each contained with its steps once; evidence intact."""
    assert sorted(i["container_id"] for i in final.values()) == sorted(t.id for t in targets)
    for incident_id, incident in final.items():
        steps = incident["steps"]
        assert incident["state"] == "contained", (incident_id, steps)
        assert [steps[i]["action"] for i in sorted(steps)] == ACTIONS
        assert steps[0]["status"] == "done", steps[0]
        assert {steps[1]["status"], steps[2]["status"]} <= {"done", "already"}, steps
        before = killed.incidents.get(incident_id, {"steps": {}})["steps"]
        for index, record in before.items():
            if record["status"] == "pending":  # cut by the kill: run again after the restart
                assert datetime.fromisoformat(steps[index]["started_at"]) > killed.at, steps
            else:  # a finished step is never run again
                assert steps[index] == record, f"step {index} of {incident_id} ran again"
        check_evidence(data_dir / "evidence" / incident_id)
        assert (data_dir / "evidence" / incident_id / "isolate.json").is_file()
    assert {p.name for p in (data_dir / "evidence").iterdir()} == set(final)


async def _repeat_after_restart(
    server: ServeProcess, targets: list[ContainerInfo], final: dict[str, dict[str, Any]]
) -> None:
    """Events about contained containers join their incidents as repeats; nothing new opens."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for n in range(REPEATS):
            for target in targets:
                body = shell(target, 10_000_000 + n)
                assert await post_falco(session, server.url, body), target.name
    store = server.data_dir / INCIDENTS_FILE
    total = len(journaled_ids(server.data_dir))

    def counted() -> dict[str, dict[str, Any]] | None:
        incidents = read_incidents(store)
        done = sum(incident["event_count"] for incident in incidents.values()) == total
        return incidents if done else None

    after = await poll("the repeats counted", counted, 30)
    assert set(after) == set(final), "an event after the restart opened a new incident"
    for incident_id, incident in after.items():
        assert incident["event_count"] == final[incident_id]["event_count"] + REPEATS
        assert incident["state"] == "contained"
        assert incident["steps"] == final[incident_id]["steps"]


async def _release_some(
    server: ServeProcess, final: dict[str, dict[str, Any]], killed: Kill
) -> list[str]:
    """Release a few incidents over HTTP, those cut in their steps by the kill first."""
    cut = killed.running(started=True)
    chosen = sorted(final, key=lambda incident_id: incident_id not in cut)[:RELEASED]
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for incident_id in chosen:
            url = f"{server.url}/v1/incidents/{incident_id}/release"
            async with session.post(url, headers=headers) as answer:
                result = await answer.json()
            assert (answer.status, result["state"]) == (200, "released"), result
            undone = {step["action"]: step["release_status"] for step in result["steps"]}
            # the network comes back from what isolate recorded, even when the kill cut it
            assert undone["docker:isolate"] == "restored", result
    return chosen


async def test_kill_9_in_a_storm_then_restart_contains_each_container_once(
    resources: Resources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL mid-storm and mid-incidents; after restart every container is contained once."""
    network, _ = resources.network()
    targets = [resources.container(networks={network: {}}) for _ in range(CONTAINERS)]
    config = tmp_path / "responder.yaml"
    config.write_text(CONFIG)
    playbooks = write_playbook(tmp_path / "playbooks", export=False)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("RESPONDER_ADMIN_TOKEN", ADMIN_TOKEN)
    server = ServeProcess(data_dir, playbooks, config, tmp_path)
    engine = EngineEvents(resources.client)
    try:
        await asyncio.to_thread(server.start)
        killed = await _storm_then_kill(server, targets)
        # Both faults held at the kill: the store the dead server left says where incidents were.
        assert killed.clients_running == CLIENTS, "the storm had stopped before the kill"
        assert killed.running(started=True), "no incident was in its steps at the kill"
        assert killed.running(started=False), "no incident was waiting its turn at the kill"

        final = await _restart_until_contained(server, CONTAINERS)
        assert not killed.acked - journaled_ids(data_dir), "acknowledged events were lost"
        _check_contained(final, killed, targets, data_dir)
        await _repeat_after_restart(server, targets, final)
        for target in targets:
            state = resources.inspect(target.id)
            assert state["State"]["Paused"] is True, target.name
            assert state["NetworkSettings"]["Networks"] == {}, target.name

        released_ns = time.time_ns()
        released = await _release_some(server, final, killed)
    finally:
        code = await asyncio.to_thread(server.stop)
        engine.close()
    assert code == 0, server.log.read_text()

    for target in targets:
        actions = engine.actions(target.id, before_ns=released_ns)
        assert actions["pause"] == 1, (target.name, actions)
        assert actions["unpause"] == actions["connect"] == 0, (target.name, actions)
    by_container = {
        incident["container_id"]: incident_id for incident_id, incident in final.items()
    }
    for target in targets:
        state = resources.inspect(target.id)
        back = by_container[target.id] in released
        assert state["State"]["Paused"] is not back, target.name
        assert list(state["NetworkSettings"]["Networks"]) == ([network] if back else []), (
            target.name
        )

    verify = await asyncio.to_thread(audit_verify, data_dir)
    assert verify.returncode == 0, verify.stdout + verify.stderr
