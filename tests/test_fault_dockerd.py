"""A real dockerd stopped and started again mid-incident, under a real `responder serve`.

The daemon is a private second one (tests/_dockerd.py), never the main engine other tests use.
It runs with `--live-restore`, as production should, so its containers outlive the outage.
It is stopped (SIGTERM, waited for) while the incident's snapshot streams the container's
export, so the outage lands mid-incident, with a step in flight; the step records say which.

Retries that outlast the outage: the step in flight is retried until the daemon is back, and
the incident ends contained, each step done once. Retries shorter than the outage: the
incident fails (or is partially contained) while the daemon is down, and the next alert after
it is back opens a new incident that contains.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import sqlite3
import subprocess
import sys
import tarfile
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from _dockerd import PrivateDockerd
from _evidence import sha256_of
from _faults import (
    RULE,
    ServeProcess,
    check_evidence,
    poll,
    read_incidents,
    shell,
    write_playbook,
)
from _peers import peers_required, require_binary

from responder.containers import ContainerInfo
from responder.incidents import INCIDENTS_FILE
from responder.testing import TEST_IMAGE

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    import docker

pytestmark = [pytest.mark.docker, pytest.mark.fault("dockerd stopped and restarted mid-incident")]

FALCO = "/v1/events/falco"
# The container's data. Stopped, the daemon finishes requests in flight for about a second
# before it exits; the export of this much takes longer, so it is cut mid-way.
BLOB_BYTES = 512 << 20
OUTAGE = 3.0  # seconds the daemon stays down once it has stopped (the fault, not an assertion)
# Retries outlast the outage (stop, OUTAGE, start: a few seconds) many times over.
PATIENT = """\
limits:
  retries: 60
  retry_backoff: 100ms
  retry_backoff_max: 500ms
"""
# Gives up two seconds after the daemon is gone, while it is still down.
IMPATIENT = """\
limits:
  retries: 2
  retry_backoff: 1s
  retry_backoff_max: 1s
"""
# The snapshot between the isolation and the pause: an outage in it leaves a partial containment.
ISOLATE_FIRST = f"""\
name: contain-shell
match:
  rules: [{RULE}]
steps:
  - action: docker:isolate
  - action: docker:snapshot
    with: {{export: true}}
  - action: docker:pause
"""
EVIDENCE_FILES = {
    "manifest.json",
    "top.json",
    "inspect.json",
    "logs.txt",
    "diff.json",
    "export.tar",
    "isolate.json",
}


class Scene:
    """The private daemon, a container with data on its network, and a server using them."""

    def __init__(self, daemon: PrivateDockerd, tmp_path: Path) -> None:
        self.daemon = daemon
        self.tmp_path = tmp_path
        self.server: ServeProcess | None = None
        self.client: docker.DockerClient = daemon.client()
        try:
            self.network = daemon.network(self.client)
            api = self.client.api
            created = api.create_container(
                TEST_IMAGE,
                ["sleep", "600"],
                host_config=api.create_host_config(network_mode=self.network),
            )
            api.start(created["Id"])
            api.put_archive(created["Id"], "/tmp", _blob())  # noqa: S108 - in the container
            self.target = ContainerInfo.from_inspect(api.inspect_container(created["Id"]))
        except BaseException:
            self.client.close()
            raise

    def serve(self, limits: str, playbook: str | None = None) -> ServeProcess:
        """Start `responder serve` (DOCKER_HOST set) on the snapshot → isolate → pause playbook.

        `playbook` replaces it.
        """
        config = self.tmp_path / "responder.yaml"
        config.write_text(limits)
        playbooks = write_playbook(self.tmp_path / "playbooks", export=True)
        if playbook is not None:
            (playbooks / "shell.yaml").write_text(playbook)
        self.server = ServeProcess(self.tmp_path / "data", playbooks, config, self.tmp_path)
        self.server.start()
        return self.server

    def inspect(self) -> dict[str, Any]:
        """The target as the daemon describes it now."""
        attrs: dict[str, Any] = self.client.api.inspect_container(self.target.id)
        return attrs

    def close(self) -> None:
        """Stop the server (if any) and close the client; the daemon is cleaned up by its owner."""
        if self.server is not None:
            self.server.stop()
        self.client.close()


def _blob() -> Iterator[bytes]:
    """A tar holding one file of BLOB_BYTES zeros, streamed in pieces (it is not held whole)."""
    member = tarfile.TarInfo("blob")
    member.size = BLOB_BYTES
    yield member.tobuf(format=tarfile.USTAR_FORMAT)
    piece = bytes(1 << 20)
    for _ in range(BLOB_BYTES // len(piece)):
        yield piece
    yield bytes(2 * tarfile.BLOCKSIZE)  # the end of the archive


@pytest.fixture
def daemon() -> Iterator[PrivateDockerd]:
    """A private dockerd with the test image, removed with everything in it afterwards."""
    require_binary("dockerd", package="docker.io")
    if os.geteuid() != 0:
        message = "a second dockerd needs root"
        if peers_required():
            pytest.fail(f"required here (CI is set): {message}")
        pytest.skip(message)
    with PrivateDockerd() as private:
        yield private


@pytest.fixture
def scene(
    daemon: PrivateDockerd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scene]:
    """The scene on the private daemon; DOCKER_HOST names it for the server and the CLI."""
    monkeypatch.setenv("DOCKER_HOST", daemon.url)
    made = Scene(daemon, tmp_path)
    try:
        yield made
    finally:
        made.close()


@contextlib.asynccontextmanager
async def http(server: ServeProcess) -> AsyncIterator[aiohttp.ClientSession]:
    """A session on the server, with a bound on every request."""
    async with aiohttp.ClientSession(
        base_url=server.url, timeout=aiohttp.ClientTimeout(total=10)
    ) as session:
        yield session


async def post(session: aiohttp.ClientSession, body: dict[str, Any]) -> None:
    """Post a Falco event; it must be acknowledged."""
    async with session.post(FALCO, json=body) as response:
        assert response.status == 202, await response.text()


async def readiness(session: aiohttp.ClientSession) -> tuple[int, list[str]]:
    """`/readyz`: the status and the failing checks."""
    async with session.get("/readyz") as response:
        return response.status, (await response.json())["failing"]


async def wait_ready(session: aiohttp.ClientSession, *, ready: bool, within: float) -> None:
    """Poll `/readyz` until it is 200 (ready) or 503 naming only docker (not ready)."""
    wanted = (200, []) if ready else (503, ["docker"])
    deadline = time.monotonic() + within
    while True:
        seen = await readiness(session)
        if seen == wanted:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"/readyz still answers {seen} after {within:g} s, not {wanted}")
        await asyncio.sleep(0.05)


async def stop_mid_export(
    scene: Scene, server: ServeProcess, export_step: int = 0
) -> tuple[str, int]:
    """Stop the daemon once the snapshot streams the export: the incident, the steps done then.

    The daemon stops listening at once, but lets requests in flight go on until it exits:
    the export is cut then (or, on a fast machine, just finishes, and the next step's first
    call is refused instead). Either way the incident is mid-way when the daemon is gone.
    """
    evidence = server.data_dir / "evidence"

    def exporting() -> Path | None:
        return next(evidence.glob("*/.export.tar.*.partial"), None)

    partial = await poll("the snapshot's export under way", exporting, 60)
    await asyncio.to_thread(scene.daemon.stop)
    incident_id = partial.parent.name
    during = read_incidents(server.data_dir / INCIDENTS_FILE)[incident_id]
    statuses = [during["steps"][i]["status"] for i in sorted(during["steps"])]
    assert during["state"] == "running", during
    done = statuses.count("done")
    assert statuses in (["done"] * done, ["done"] * done + ["pending"]), statuses
    assert done in (export_step, export_step + 1), statuses
    return incident_id, done


def step_hit(steps: dict[int, dict[str, Any]], done: int, *, status: str) -> int:
    """The one step that met the outage: the first with `status`; the snapshot or the next.

    `done` steps were done when the daemon had stopped; the step that met the outage is the
    one then in flight, or (if the export finished just as the daemon went) the one after.
    """
    hit = [i for i in sorted(steps) if steps[i]["status"] == status]
    assert hit, steps
    assert hit[0] in (done, done + 1), (done, steps)
    return hit[0]


async def finished(server: ServeProcess, incident_id: str, within: float) -> dict[str, Any]:
    """The incident once it is no longer running."""

    def done() -> dict[str, Any] | None:
        incident = read_incidents(server.data_dir / INCIDENTS_FILE)[incident_id]
        return incident if incident["state"] != "running" else None

    return await poll(f"incident {incident_id} to finish", done, within)


async def settled(server: ServeProcess, events: int, within: float) -> dict[str, dict[str, Any]]:
    """Every incident, once `events` events are counted in them and none is running."""

    def check() -> dict[str, dict[str, Any]] | None:
        incidents = read_incidents(server.data_dir / INCIDENTS_FILE)
        counted = sum(incident["event_count"] for incident in incidents.values())
        running = any(incident["state"] == "running" for incident in incidents.values())
        return incidents if counted == events and not running else None

    return await poll(f"{events} events counted in finished incidents", check, within)


async def assert_kept_and_reported(
    server: ServeProcess, incident_id: str, step: dict[str, Any]
) -> None:
    """A snapshot that gave up lists the files it took in a manifest, and the report shows them.

    Regression: they were left on disk unlisted, with no manifest and no line in the report.
    """
    kinds = [artifact["kind"] for artifact in step["artifacts"]]
    assert kinds == ["top", "inspect", "logs", "diff"], step
    evidence = server.data_dir / "evidence" / incident_id
    check_evidence(evidence)
    manifest = evidence / "manifest.json"
    assert step["data"]["manifest"] == str(manifest)
    assert sha256_of(manifest) == step["data"]["manifest_sha256"]
    path = server.data_dir / "reports" / incident_id / "report.md"
    await poll("the report", lambda: path if path.exists() else None, 30)
    report = path.read_text()
    for artifact in step["artifacts"]:
        assert artifact["sha256"] in report, artifact["name"]
    assert step["data"]["manifest_sha256"] in report


def release(incident: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Run the release command the incident advertises, as on-call would paste it."""
    command = shlex.split(incident["release_command"])
    assert command[:2] == ["responder", "release"], command
    return subprocess.run(
        [sys.executable, "-m", "responder", *command[1:]],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def assert_served_on(server: ServeProcess) -> None:
    """The server is alive and logged no unexpected error."""
    assert server.process is not None
    assert server.process.poll() is None, server.log.read_text()
    assert "Traceback" not in server.log.read_text(), server.log.read_text()


async def test_dockerd_restarted_mid_snapshot_the_incident_resumes_to_containment(
    scene: Scene,
) -> None:
    """Daemon down mid-export, up again after a few seconds: retried, contained once, released."""
    server = await asyncio.to_thread(scene.serve, PATIENT)
    async with http(server) as session:
        await post(session, shell(scene.target))
        incident_id, done = await stop_mid_export(scene, server)

        async with session.get("/healthz") as health:
            assert health.status == 200
        await wait_ready(session, ready=False, within=10)
        await asyncio.sleep(OUTAGE)  # the outage goes on; the step keeps retrying meanwhile
        assert read_incidents(server.data_dir / INCIDENTS_FILE)[incident_id]["state"] == "running"
        await asyncio.to_thread(scene.daemon.start)
        await wait_ready(session, ready=True, within=30)

        incident = await finished(server, incident_id, 60)
        steps = incident["steps"]
        assert incident["state"] == "contained", (steps, server.log.read_text())
        assert [steps[i]["status"] for i in sorted(steps)] == ["done"] * 3, steps
        # The step that met the outage was retried until the daemon was back; no other was.
        retried = [i for i in sorted(steps) if steps[i]["attempts"] > 1]
        assert len(retried) == 1, steps
        assert retried[0] in (done, done + 1), (done, steps)

        # Once: one evidence directory, every file whole and matching its hash.
        evidence = server.data_dir / "evidence"
        assert [p.name for p in evidence.iterdir()] == [incident_id]
        assert {p.name for p in (evidence / incident_id).iterdir()} == EVIDENCE_FILES
        check_evidence(evidence / incident_id)
        manifest = json.loads((evidence / incident_id / "manifest.json").read_text())
        assert manifest["errors"] == []
        [export] = [a for a in manifest["artifacts"] if a["kind"] == "export"]
        assert export["size"] > BLOB_BYTES
        assert not export["truncated"]
        # The isolation record names the network, so that release can put it back.
        assert list(steps[1]["undo"]["networks"]) == [scene.network], steps[1]
        state = scene.inspect()
        assert state["State"]["Paused"] is True
        assert state["NetworkSettings"]["Networks"] == {}
        assert_served_on(server)

        async with session.get(f"/v1/incidents/{incident_id}") as response:
            shown = await response.json()
        released = await asyncio.to_thread(release, shown)
        assert released.returncode == 0, released.stdout + released.stderr
        state = scene.inspect()
        assert state["State"]["Paused"] is False
        assert state["State"]["Running"] is True
        assert list(state["NetworkSettings"]["Networks"]) == [scene.network]
        after = read_incidents(server.data_dir / INCIDENTS_FILE)[incident_id]
        assert after["state"] == "released"
    assert server.stop() == 0


async def test_dockerd_down_longer_than_the_retries_fails_and_a_repeat_after_recovery_contains(
    scene: Scene,
) -> None:
    """Retries shorter than the outage: failed, container untouched; the next alert contains."""
    server = await asyncio.to_thread(scene.serve, IMPATIENT)
    async with http(server) as session:
        await post(session, shell(scene.target))
        incident_id, done = await stop_mid_export(scene, server)

        failed = await finished(server, incident_id, 30)  # while the daemon is still down
        steps = failed["steps"]
        assert failed["state"] == "failed", steps
        hit = step_hit(steps, done, status="failed")
        statuses = [steps[i]["status"] for i in sorted(steps)]
        assert statuses == ["done"] * hit + ["failed"] + ["skipped"] * (2 - hit)
        gave_up = steps[hit]
        assert gave_up["detail"].startswith("gave up after retries: Docker engine unreachable")
        assert gave_up["attempts"] == 3
        if hit == 0:  # the snapshot met the outage: what it took before is still listed
            await assert_kept_and_reported(server, incident_id, gave_up)
        assert_served_on(server)
        await wait_ready(session, ready=False, within=10)

        await asyncio.to_thread(scene.daemon.start)
        await wait_ready(session, ready=True, within=30)
        state = scene.inspect()  # nothing was changed: the snapshot never finished
        assert state["State"]["Paused"] is False
        assert list(state["NetworkSettings"]["Networks"]) == [scene.network]

        # Falco fires again while the shell is still open: the failed incident is not joined.
        await post(session, shell(scene.target, 1))
        incidents = await settled(server, 2, 60)
        assert incidents.pop(incident_id)["state"] == "failed"
        [contained] = incidents.values()
        assert contained["state"] == "contained", contained["steps"]
        assert [s["status"] for s in contained["steps"].values()] == ["done"] * 3
        check_evidence(server.data_dir / "evidence" / contained["id"])
        assert not list((server.data_dir / "evidence").glob("*/.*.partial"))
        state = scene.inspect()
        assert state["State"]["Paused"] is True
        assert state["NetworkSettings"]["Networks"] == {}
        assert_served_on(server)
    assert server.stop() == 0


async def test_dockerd_down_after_isolation_partially_contained_then_a_repeat_finishes(
    scene: Scene,
) -> None:
    """Isolated, then the daemon gone for longer than the retries; a repeat after it contains.

    Regression: the repeat joined the partially contained incident and did nothing, leaving
    the container isolated but running, for the whole cooldown.
    """
    server = await asyncio.to_thread(scene.serve, IMPATIENT, ISOLATE_FIRST)
    async with http(server) as session:
        await post(session, shell(scene.target))
        first_id, done = await stop_mid_export(scene, server, export_step=1)
        first = await finished(server, first_id, 30)  # while the daemon is still down
        assert first["state"] == "partially contained", first["steps"]
        hit = step_hit(first["steps"], done, status="failed")
        statuses = [first["steps"][i]["status"] for i in sorted(first["steps"])]
        assert statuses == ["done"] * hit + ["failed"] + ["skipped"] * (2 - hit)

        await asyncio.to_thread(scene.daemon.start)
        await wait_ready(session, ready=True, within=30)
        state = scene.inspect()  # isolated, but its processes run on
        assert (state["State"]["Paused"], state["NetworkSettings"]["Networks"]) == (False, {})

        await post(session, shell(scene.target, 1))
        incidents = await settled(server, 2, 60)
        assert incidents.pop(first_id)["event_count"] == 1, "the repeat joined, did nothing"
        [repeat] = incidents.values()
        steps = [repeat["steps"][i] for i in sorted(repeat["steps"])]
        assert repeat["state"] == "contained", steps
        assert [s["status"] for s in steps] == ["already", "done", "done"], steps
        check_evidence(server.data_dir / "evidence" / repeat["id"])
        assert not list((server.data_dir / "evidence").glob("*/.*.partial"))
        state = scene.inspect()
        assert (state["State"]["Paused"], state["NetworkSettings"]["Networks"]) == (True, {})
        assert_served_on(server)

        # Each release undoes what its own incident did: the pause, then the isolation.
        for incident_id in (repeat["id"], first_id):
            async with session.get(f"/v1/incidents/{incident_id}") as response:
                released = await asyncio.to_thread(release, await response.json())
            assert released.returncode == 0, released.stdout + released.stderr
        state = scene.inspect()
        assert state["State"]["Paused"] is False
        assert list(state["NetworkSettings"]["Networks"]) == [scene.network]
    assert server.stop() == 0


# Each engine call the server makes gives up after 2 s; the steps retry for far longer than
# the freeze lasts.
FROZEN_PATIENT = """\
docker:
  timeout: 2
limits:
  retries: 60
  retry_backoff: 200ms
  retry_backoff_max: 1s
"""
NOTIFYING = f"""\
name: contain-shell
match:
  rules: [{RULE}]
steps:
  - action: docker:snapshot
    with: {{export: true}}
  - action: docker:isolate
  - action: docker:pause
  - action: notify
    with: {{channels: [oncall]}}
"""
FREEZE = 6.0  # seconds the daemon answers nothing: past the engine's call timeout (the fault)


def falco_shell(container: ContainerInfo, n: int) -> dict[str, Any]:
    """A shell event as Falco or a relay writes it: the 12-digit id and the name, or one of them."""
    body = shell(container, n)
    naming = [
        {"container.id": container.short_id, "container.name": container.name},
        {"container.name": container.name},
        {"container.id": container.short_id},
    ]
    body["output_fields"] = naming[n % len(naming)]
    return body


def messages_of(data_dir: Path, incident_id: str) -> list[str]:
    """The titles of the messages queued for an incident."""
    conn = sqlite3.connect(f"file:{data_dir / 'outbox.sqlite3'}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT message FROM outbox WHERE incident_id = ? ORDER BY id", (incident_id,)
        ).fetchall()
    finally:
        conn.close()
    return [json.loads(message)["title"] for (message,) in rows]


@pytest.mark.parametrize("first", ["before the freeze", "during the freeze"])
async def test_dockerd_frozen_repeats_join_the_incident_that_waits_for_it(
    scene: Scene, first: str
) -> None:
    """Regression: a repeat during an engine hang opened a second incident on the same container.

    The daemon accepts connections and answers nothing (SIGSTOP), as dockerd 20.10 does when
    its network store deadlocks. Intake goes on answering 202; readiness says the engine does
    not answer; when it answers again, the container is contained once, in one incident that
    counts every alert, and on-call gets one message.
    """
    server = scene.serve(FROZEN_PATIENT, NOTIFYING)
    async with http(server) as session:
        await wait_ready(session, ready=True, within=30)
        if first == "before the freeze":
            await post(session, falco_shell(scene.target, 0))
            evidence = server.data_dir / "evidence"
            await poll(
                "the snapshot's export under way",
                lambda: next(evidence.glob("*/.export.tar.*.partial"), None),
                60,
            )
        await asyncio.to_thread(scene.daemon.freeze)
        try:
            # Past the worker's one-second memory of the container it found: the repeats are
            # looked up anew, and the engine does not answer.
            await asyncio.sleep(1.5)
            for n in range(1, 4):
                await post(session, falco_shell(scene.target, n))
            deadline = time.monotonic() + FREEZE
            status, failing = await readiness(session)
            assert status == 503
            assert "docker" in failing
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        finally:
            await asyncio.to_thread(scene.daemon.thaw)
        events = 4 if first == "before the freeze" else 3
        incidents = await settled(server, events, within=180)
        await wait_ready(session, ready=True, within=60)
    [(incident_id, incident)] = incidents.items()
    assert incident["state"] == "contained", incident
    assert incident["event_count"] == events
    assert scene.inspect()["State"]["Paused"] is True
    titles = messages_of(server.data_dir, incident_id)
    assert len(titles) == 1, titles
    assert "[CONTAINED]" in titles[0]
    assert_served_on(server)
