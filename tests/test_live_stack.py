"""Live end-to-end, with real peers as far as one host allows: the compose stack's own configs.

- Alertmanager (Debian `prometheus-alertmanager`) runs deploy/alertmanager.yml, changed only in
  what cannot be the same on one host (the responder's address, the token file's path).
- The responder runs as a real process (`python -m responder serve`) on deploy/responder.yaml as
  it is, with the shipped playbooks/ and its token from RESPONDER_TOKEN_FILE, as in compose.yml.
- A real container from the test image is the target; the test posts an alert shaped like the
  one rules/prometheus fires for it, and checks what the shipped playbook says should happen.
- With Prometheus (Debian `prometheus`) on deploy/prometheus.yml, the shipped rule file itself
  is evaluated against a cAdvisor stand-in of the test's own that reports the real container's
  real start time, while the test restarts that container.

Every wait is bounded; a failure prints every peer's log.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import fnmatch
import hashlib
import json
import secrets
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
import yaml
from _alertmanager import Peer, post_alerts, run_alertmanager, run_peer
from _faults import ServeProcess
from _peers import free_port, require_binary
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from responder.actions import ActionRegistry, default_actions
from responder.playbooks import LoadedPlaybook, load_playbooks

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    import docker
    from docker.models.containers import Container

pytestmark = pytest.mark.docker

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PLAYBOOKS = ROOT / "playbooks"
RULES = ROOT / "rules" / "prometheus" / "responder_alerts.yml"
COMPOSE = ROOT / "compose.yml"

# The only shipped Alertmanager alert whose playbook acts on the container (a snapshot): the
# others only notify. Its rule has no `for:`, so Prometheus fires it on the first evaluation
# that sees three restarts; no rule had to be changed for this test.
ALERT = "ContainerRestartLoop"
RESTARTS = 3
WAIT = 90.0
"""Seconds any one wait may take; Alertmanager alone holds a new group for group_wait (10 s)."""


# ---------------------------------------------------------------- the stack and its logs


class Stack:
    """The peers of one test: bounded waits, and their logs when something fails."""

    def __init__(self) -> None:
        self.peers: list[Peer] = []
        self.probes: list[Callable[[], Awaitable[str]]] = []
        """More to print on failure: a peer's view of things (Prometheus's alerts)."""
        self.told = False
        """The failure message already holds the report: `on_failure` does not repeat it."""

    async def report(self) -> str:
        """Every peer's log, then every probe's answer."""
        parts = [peer.logs() for peer in self.peers]
        for probe in self.probes:
            try:
                parts.append(await probe())
            except Exception as exc:  # noqa: BLE001 - a probe of a dead peer says so, no more
                parts.append(f"(probe failed: {exc!r})")
        return "\n".join(parts)

    async def failure(self, message: str) -> str:
        """`message` and the report, for `pytest.fail`."""
        self.told = True
        return f"{message}\n{await self.report()}"

    @contextlib.asynccontextmanager
    async def on_failure(self) -> AsyncIterator[None]:
        """On any other failure inside, write the report to stderr (pytest shows it)."""
        try:
            yield
        except BaseException:
            if not self.told:
                sys.stderr.write(await self.report() + "\n")
            raise

    async def until(
        self, what: str, probe: Callable[[], Awaitable[T | None]], seconds: float = WAIT
    ) -> T:
        """Poll `probe` until it returns something; fail with the peers' logs after `seconds`."""
        deadline = time.monotonic() + seconds
        last: BaseException | None = None
        while time.monotonic() < deadline:
            try:
                if (result := await probe()) is not None:
                    return result
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                last = exc
            await asyncio.sleep(0.25)
        pytest.fail(await self.failure(f"{what}: not within {seconds:.0f} s (last: {last!r})"))


@dataclass(frozen=True)
class Responder:
    """The responder process, its data directory, its intake token and its read token."""

    url: str
    data_dir: Path
    token: str
    read_token: str

    @property
    def auth(self) -> dict[str, str]:
        """The header every sender presents."""
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str) -> Any:
        """GET a read-only view with the read token."""
        reader = {"Authorization": f"Bearer {self.read_token}"}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.get(f"{self.url}{path}", headers=reader) as response,
        ):
            assert response.status == 200, await response.text()
            return await response.json()

    async def incident(self, playbook: str, container: str) -> dict[str, Any] | None:
        """The finished incident of `playbook` on `container` with its report written, or None."""
        listing = await self.get("/v1/incidents?limit=50")
        for row in listing["incidents"]:
            if (row["playbook"], row["container_name"]) != (playbook, container):
                continue
            if (
                row["state"] == "running"
                or not (self.report_dir(row["id"]) / "report.json").exists()
            ):
                return None
            incident: dict[str, Any] = await self.get(f"/v1/incidents/{row['id']}")
            return incident
        return None

    def report_dir(self, incident_id: str) -> Path:
        """Where the incident's report files are written."""
        return self.data_dir / "reports" / incident_id


@pytest.fixture
def stack() -> Stack:
    """Collects the peers as they start."""
    return Stack()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    """The shared secret, made as compose.yml's recipe makes it: base64, then a newline."""
    path = tmp_path / "secrets" / "responder_token"
    path.parent.mkdir()
    path.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return path


OPERATOR_PLAYBOOK = f"""\
# An operator's own choice beside the shipped ones: a restart loop is paused, not only recorded.
name: pause-restart-loop
order: 10  # before the shipped snapshot-restart-loop (order 60), which is final
match:
  source: alertmanager
  alertnames: [{ALERT}]
steps:
  - action: docker:pause
  - action: notify
    with: {{channels: [oncall]}}
"""


@pytest.fixture
def playbooks_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The shipped playbooks; with the parameter "operator", one more that pauses a restart loop."""
    if getattr(request, "param", "shipped") == "shipped":
        return PLAYBOOKS
    directory = tmp_path / "playbooks"
    shutil.copytree(PLAYBOOKS, directory)
    (directory / "90-operator.yaml").write_text(OPERATOR_PLAYBOOK)
    return directory


@pytest.fixture
async def responder(
    tmp_path: Path,
    token_file: Path,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    playbooks_dir: Path,
) -> AsyncIterator[Responder]:
    """`python -m responder serve` on deploy/responder.yaml unchanged and the shipped playbooks.

    As in compose.yml, the token comes from RESPONDER_TOKEN_FILE. What differs from the stack:
    a free loopback port instead of 8470, a temp data directory, the local Docker socket
    instead of the socket proxy (its image is not here).
    """
    monkeypatch.delenv("RESPONDER_TOKEN", raising=False)
    monkeypatch.setenv("RESPONDER_TOKEN_FILE", str(token_file))  # ServeProcess passes os.environ
    read_token = secrets.token_urlsafe(24)  # the intake token only sends alerts
    monkeypatch.delenv("RESPONDER_READ_TOKEN_FILE", raising=False)
    monkeypatch.setenv("RESPONDER_READ_TOKEN", read_token)
    serve = ServeProcess(tmp_path / "data", playbooks_dir, DEPLOY / "responder.yaml", tmp_path)
    try:
        await asyncio.to_thread(serve.start)
        stack.peers.append(Peer("responder", serve.url, serve.log))
        server = Responder(serve.url, serve.data_dir, _read_token(token_file), read_token)
        await stack.until("responder /readyz answers 200", ready_probe(server.url))
        yield server
    finally:
        await asyncio.to_thread(serve.stop)


def _read_token(path: Path) -> str:
    return path.read_text().strip()


def ready_probe(url: str) -> Callable[[], Awaitable[bool | None]]:
    """A probe: True once `url/readyz` answers 200 (journal, Docker and playbooks are ready)."""

    async def probe() -> bool | None:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(f"{url}/readyz") as response,
        ):
            return True if response.status == 200 else None

    return probe


# ---------------------------------------------------------------- Alertmanager from deploy/


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _webhook(config: dict[str, Any]) -> dict[str, Any]:
    [receiver] = config["receivers"]
    [webhook] = receiver["webhook_configs"]
    assert isinstance(webhook, dict)
    return webhook


def alertmanager_config(responder_url: str, token_file: Path) -> dict[str, Any]:
    """deploy/alertmanager.yml with the responder's address and the token file's path replaced.

    Nothing else differs from the file: `assert_only_host_specifics_differ` checks it.
    """
    config: dict[str, Any] = copy.deepcopy(_yaml(DEPLOY / "alertmanager.yml"))
    webhook = _webhook(config)
    deployed = urlsplit(webhook["url"])
    webhook["url"] = urlunsplit(deployed._replace(netloc=urlsplit(responder_url).netloc))
    webhook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    return config


def assert_only_host_specifics_differ(adapted: dict[str, Any]) -> None:
    """Route, grouping, timings, send_resolved, authorization type: all as in the file."""
    original = _yaml(DEPLOY / "alertmanager.yml")
    ours, theirs = _webhook(adapted), _webhook(original)
    assert urlsplit(ours["url"]).path == urlsplit(theirs["url"]).path == "/v1/events/alertmanager"
    assert urlsplit(ours["url"]).scheme == urlsplit(theirs["url"]).scheme
    assert ours["http_config"]["authorization"]["type"] == "Bearer"
    assert theirs["http_config"]["authorization"]["credentials_file"] == (
        "/run/secrets/responder_token"  # the secret compose.yml mounts into Alertmanager
    )
    assert ours["send_resolved"] is theirs["send_resolved"] is True
    assert adapted["route"] == original["route"]
    assert adapted["route"]["group_by"] == ["alertname", "container"]
    masked = copy.deepcopy(adapted)
    _webhook(masked)["url"] = theirs["url"]
    _webhook(masked)["http_config"]["authorization"]["credentials_file"] = theirs["http_config"][
        "authorization"
    ]["credentials_file"]
    assert masked == original


@pytest.fixture
async def alertmanager(
    tmp_path: Path, responder: Responder, token_file: Path, stack: Stack
) -> AsyncIterator[Peer]:
    """The real Alertmanager on the adapted deploy/alertmanager.yml."""
    config = alertmanager_config(responder.url, token_file)
    assert_only_host_specifics_differ(config)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    async with run_alertmanager(path, tmp_path) as peer:
        stack.peers.append(peer)
        yield peer


async def _metrics(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample at `url/metrics`, by name and labels."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.get(f"{url}/metrics") as response,
    ):
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _total(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


async def assert_delivered_with_the_token(
    alertmanager: Peer, responder: Responder, *, refused: int
) -> None:
    """Alertmanager delivered without failure and the responder refused none of it.

    `refused`: the unauthenticated requests the test itself sent. The responder refuses `/v1/`
    without the token, so an accepted delivery is one that carried it.
    """
    am = await _metrics(alertmanager.url)
    assert _total(am, "alertmanager_notifications_total", integration="webhook") >= 1
    assert _total(am, "alertmanager_notifications_failed_total", integration="webhook") == 0
    ours = await _metrics(responder.url)
    received = "responder_events_received_total"
    assert _total(ours, received, source="alertmanager", outcome="accepted") >= 1
    assert _total(ours, received, outcome="unauthorized") == refused


async def assert_intake_token_cannot_read(responder: Responder) -> None:
    """The token Alertmanager holds sends alerts only: reading with it answers 403."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.get(f"{responder.url}/v1/incidents", headers=responder.auth) as response,
    ):
        assert response.status == 403, await response.text()


async def assert_intake_needs_the_token(responder: Responder) -> None:
    """Without the bearer token, the Alertmanager endpoint answers 401."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.post(f"{responder.url}/v1/events/alertmanager", json={}) as response,
    ):
        assert response.status == 401, await response.text()


# ---------------------------------------------------------------- what the shipped files say


@dataclass(frozen=True)
class Expected:
    """What the shipped playbook for an alert does to its container, read from the playbook."""

    playbook: str
    actions: tuple[str, ...]
    state: str
    status: str
    isolated: bool


def expected_for(alertname: str) -> Expected:
    """The first shipped playbook (in the order they are tried) that takes this alert."""
    registry = ActionRegistry(default_actions())
    shipped = load_playbooks([PLAYBOOKS], registry)
    loaded = next(p for p in shipped.playbooks if _takes(p, alertname))
    actions = tuple(step.action for step in loaded.playbook.steps)
    changes = any((a := registry.get(name)) is not None and a.changes_container for name in actions)
    if "docker:pause" in actions:
        status = "paused"
    elif {"docker:stop", "docker:kill"} & set(actions):
        status = "exited"
    else:
        status = "running"
    return Expected(
        playbook=loaded.name,
        actions=actions,
        state="contained" if changes else "notified",
        status=status,
        isolated="docker:isolate" in actions,
    )


def _takes(loaded: LoadedPlaybook, alertname: str) -> bool:
    match = loaded.playbook.match
    return (
        loaded.playbook.enabled
        and "alertmanager" in (match.source or ["alertmanager"])
        and any(fnmatch.fnmatchcase(alertname, name) for name in match.alertnames or [])
    )


def shipped_rule(alertname: str) -> dict[str, Any]:
    """The alerting rule of that name in rules/prometheus/responder_alerts.yml."""
    rules = [rule for group in _yaml(RULES)["groups"] for rule in group["rules"]]
    [rule] = [rule for rule in rules if rule.get("alert") == alertname]
    assert isinstance(rule, dict)
    return rule


def alert_as_prometheus_fires_it(container: str, instance: str) -> dict[str, Any]:
    """The alert the shipped rule fires for `container`.

    Its expression keeps `name` and `instance`, label_replace copies `name` to `container`, and
    the rule adds its own labels (severity).
    """
    rule = shipped_rule(ALERT)
    return {
        "labels": {
            "alertname": ALERT,
            "name": container,
            "container": container,
            "instance": instance,
            **rule["labels"],
        },
        "annotations": {"summary": f"Container {container} is in a restart loop"},
        "generatorURL": "http://prometheus:9090/graph",
    }


# ---------------------------------------------------------------- the container and its checks


@pytest.fixture
def target(docker_client: docker.DockerClient, test_image: str) -> Iterator[Container]:
    """A plain workload from the test image: no protection label, on the default bridge."""
    container = docker_client.containers.run(
        test_image, ["sleep", "3600"], detach=True, name=f"live-stack-{secrets.token_hex(4)}"
    )
    try:
        yield container
    finally:
        container.remove(force=True)


def _networks(container: Container) -> list[str]:
    container.reload()
    return sorted(container.attrs["NetworkSettings"]["Networks"] or {})


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_incident(incident: dict[str, Any], expected: Expected, container: Container) -> None:
    """Every step of the playbook ran and succeeded, on that container."""
    assert incident["state"] == expected.state, incident
    assert incident["container_name"] == container.name
    assert str(container.id).startswith(incident["container_id"])
    assert incident["event_source"] == "alertmanager"
    assert incident["event_name"] == ALERT
    assert incident["priority"] == "Critical"  # severity: critical, from the rule
    assert [s["action"] for s in incident["steps"]] == list(expected.actions)
    assert {s["status"] for s in incident["steps"]} == {"done"}, incident["steps"]


def assert_container(container: Container, expected: Expected, networks: list[str]) -> None:
    """The container is as the playbook's steps leave it."""
    container.reload()
    assert container.status == expected.status
    assert _networks(container) == ([] if expected.isolated else networks)


def assert_evidence_and_report(responder: Responder, incident: dict[str, Any]) -> None:
    """The report in every format, and each snapshot's manifest and artifacts, hashes intact."""
    reports = responder.report_dir(incident["id"])
    for name in ("report.md", "report.json", "report.html"):
        assert (reports / name).stat().st_size > 0, name
    report = json.loads((reports / "report.json").read_text())
    assert incident["id"] in json.dumps(report)
    assert incident["id"] in (reports / "report.md").read_text()
    snapshots = [s for s in incident["steps"] if s["action"] == "docker:snapshot"]
    for step in snapshots:
        manifest = Path(step["data"]["manifest"])
        assert _sha256(manifest) == step["data"]["manifest_sha256"]
        kinds = {artifact["kind"] for artifact in step["artifacts"]}
        assert {"inspect", "logs"} <= kinds, kinds
        for artifact in step["artifacts"]:
            if not artifact["name"].startswith("image:"):
                assert _sha256(manifest.parent / artifact["name"]) == artifact["sha256"]


async def responder_cli(stack: Stack, *args: str) -> str:
    """`python -m responder ARGS` (as `responder ARGS`); its stdout; fails unless it exits 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "responder",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(await stack.failure(f"responder {shlex.join(args)}: not done within 60 s"))
    if process.returncode != 0:
        pytest.fail(
            await stack.failure(
                f"responder {shlex.join(args)} exited {process.returncode}:\n"
                f"{out.decode()}\n{err.decode()}"
            )
        )
    return out.decode()


# ---------------------------------------------------------------- 1. Alertmanager -> responder


async def test_deploy_alertmanager_delivers_and_the_shipped_playbook_acts_then_releases(
    stack: Stack, responder: Responder, alertmanager: Peer, target: Container
) -> None:
    """An alert posted to Alertmanager ends in the shipped playbook's incident; release undoes it.

    `responder release` runs exactly as the incident (and its notification) gives the command.
    """
    expected = expected_for(ALERT)
    assert any(a.startswith("docker:") for a in expected.actions), (
        f"{expected.playbook} no longer acts on the container: pick another alert for this test"
    )
    name = str(target.name)
    networks = _networks(target)
    async with stack.on_failure():
        await assert_intake_needs_the_token(responder)
        await assert_intake_token_cannot_read(responder)
        await post_alerts(alertmanager.url, [alert_as_prometheus_fires_it(name, "cadvisor:8080")])
        incident = await stack.until(
            f"an incident of {expected.playbook} on {name}",
            lambda: responder.incident(expected.playbook, name),
        )
        await assert_delivered_with_the_token(alertmanager, responder, refused=1)
        assert_incident(incident, expected, target)
        assert_container(target, expected, networks)
        assert_evidence_and_report(responder, incident)
        await responder_cli(stack, "audit", "verify", "--data-dir", str(responder.data_dir))

        # The release command exactly as the incident (and its notification) gives it.
        command = shlex.split(incident["release_command"])
        assert command[:2] == ["responder", "release"]
        assert command[-1] == incident["id"]
        released = await responder_cli(stack, *command[1:])
        assert f"incident {incident['id']}: released" in released
        target.reload()
        assert target.status == "running"
        assert _networks(target) == networks
        after = await responder.get(f"/v1/incidents/{incident['id']}")
        assert after["state"] == "released"
        audit = (responder.data_dir / "audit.jsonl").read_text()
        assert "incident.released" in audit
        await responder_cli(stack, "audit", "verify", "--data-dir", str(responder.data_dir))


@pytest.mark.parametrize("playbooks_dir", ["operator"], indirect=True)
async def test_deploy_alertmanager_delivers_and_an_operator_playbook_pauses_the_container(
    stack: Stack, responder: Responder, alertmanager: Peer, target: Container
) -> None:
    """With a pausing playbook of the operator's beside the shipped ones, the alert contains.

    The shipped stack only snapshots on Alertmanager alerts; containment on one is a
    deliberate choice, made here the way an operator would: one more playbook file.
    """
    name = str(target.name)
    async with stack.on_failure():
        await post_alerts(alertmanager.url, [alert_as_prometheus_fires_it(name, "cadvisor:8080")])
        incident = await stack.until(
            f"a contained incident of pause-restart-loop on {name}",
            lambda: responder.incident("pause-restart-loop", name),
        )
        assert incident["state"] == "contained", incident
        target.reload()
        assert target.status == "paused"
        command = shlex.split(incident["release_command"])
        await responder_cli(stack, *command[1:])
        target.reload()
        assert target.status == "running"


# ---------------------------------------------------------------- 2. Prometheus -> Alertmanager


class CadvisorStandIn:
    """An HTTP server shaped like cAdvisor's /metrics for one real container.

    It reports `container_start_time_seconds` from the container's real State.StartedAt (read
    from the engine at each scrape, as cAdvisor reads its cgroup), so a real restart is a new
    start time.
    """

    def __init__(self, container: Container) -> None:
        self.container = container
        self.address = ""
        self._runner: web.AppRunner | None = None

    def start_time(self) -> float:
        """The container's current start time, as a unix time."""
        client = self.container.client
        assert client is not None  # a container from the engine has its client
        state = client.api.inspect_container(str(self.container.id))["State"]
        return datetime.fromisoformat(state["StartedAt"]).timestamp()

    async def _metrics(self, _: web.Request) -> web.Response:
        started = await asyncio.to_thread(self.start_time)
        labels = (
            f'id="/system.slice/docker-{self.container.id}.scope",'
            f'image="{self.container.attrs["Config"]["Image"]}",name="{self.container.name}"'
        )
        text = (
            "# HELP container_start_time_seconds Start time of the container since unix epoch "
            "in seconds.\n"
            "# TYPE container_start_time_seconds gauge\n"
            f"container_start_time_seconds{{{labels}}} {started:.9f}\n"
        )
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.address = f"127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def compose_rule_mounts() -> dict[str, Path]:
    """The rule files compose.yml mounts into Prometheus: container path to repo file."""
    volumes = _yaml(COMPOSE)["services"]["prometheus"]["volumes"]
    mounts = {}
    for volume in volumes:
        source, target, *_ = volume.split(":")
        if source.startswith("./rules/"):
            mounts[target] = (ROOT / source).resolve()
    return mounts


def prometheus_config(
    tmp_path: Path, responder: Responder, alertmanager: Peer, cadvisor: str
) -> dict[str, Any]:
    """deploy/prometheus.yml for one host; returns the config, with its rule files in place.

    Changed: 1 s scrape and evaluation intervals (30 s in the file); the rule_files directory
    (the rule files compose.yml mounts there are copied to a temp directory, same names, same
    glob); the Alertmanager and responder targets (loopback ports instead of service names);
    and the cAdvisor job, commented out in the file, added with the stand-in as its target.
    """
    config: dict[str, Any] = copy.deepcopy(_yaml(DEPLOY / "prometheus.yml"))
    config["global"]["scrape_interval"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    rules_dir = tmp_path / "prometheus-rules"
    rules_dir.mkdir()
    [pattern] = config["rule_files"]
    mounted = compose_rule_mounts()
    assert mounted, "compose.yml mounts no rule file into Prometheus"
    for target, source in mounted.items():
        assert fnmatch.fnmatchcase(target, pattern), f"{target} is not loaded by {pattern}"
        shutil.copyfile(source, rules_dir / PurePosixPath(target).name)
    config["rule_files"] = [str(rules_dir / PurePosixPath(pattern).name)]
    [alerting] = config["alerting"]["alertmanagers"]
    assert alerting["static_configs"] == [{"targets": ["alertmanager:9093"]}]
    alerting["static_configs"] = [{"targets": [urlsplit(alertmanager.url).netloc]}]
    [job] = config["scrape_configs"]
    assert job == {"job_name": "responder", "static_configs": [{"targets": ["responder:8470"]}]}
    job["static_configs"] = [{"targets": [urlsplit(responder.url).netloc]}]
    config["scrape_configs"].append(
        {"job_name": "cadvisor", "static_configs": [{"targets": [cadvisor]}]}
    )
    return config


@contextlib.asynccontextmanager
async def run_prometheus(
    config: dict[str, Any], tmp_path: Path, stack: Stack
) -> AsyncIterator[Peer]:
    """The real Prometheus on `config`, on a free loopback port."""
    binary = require_binary("prometheus", package="prometheus")
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    argv = [
        binary,
        f"--config.file={path}",
        f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    url = f"http://127.0.0.1:{port}"
    async with run_peer("prometheus", argv, url, tmp_path / "prometheus.log") as peer:
        stack.peers.append(peer)
        stack.probes.append(lambda: _api(url, "alerts"))
        stack.probes.append(lambda: _api(url, "targets"))
        yield peer


async def _api(url: str, what: str) -> str:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(f"{url}/api/v1/{what}") as response,
    ):
        return f"----- prometheus /api/v1/{what} -----\n{await response.text()}"


def counted(prometheus: Peer, query: str, value: int) -> Callable[[], Awaitable[bool | None]]:
    """A probe: True once Prometheus's own answer to the instant `query` is `value`.

    The test waits on what Prometheus stored, not on what the stand-in served: a scrape that
    timed out would otherwise lose a restart and the rule would never fire.
    """

    async def probe() -> bool | None:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(f"{prometheus.url}/api/v1/query", params={"query": query}) as response,
        ):
            result = (await response.json())["data"]["result"]
        return True if [float(r["value"][1]) for r in result] == [value] else None

    return probe


def targets_up(prometheus: Peer) -> Callable[[], Awaitable[set[str] | None]]:
    """A probe: the job names, once every active target is up."""

    async def probe() -> set[str] | None:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(f"{prometheus.url}/api/v1/targets") as response,
        ):
            active = (await response.json())["data"]["activeTargets"]
        if active and all(t["health"] == "up" for t in active):
            return {t["labels"]["job"] for t in active}
        return None

    return probe


async def test_deploy_prometheus_fires_a_shipped_rule_that_the_responder_acts_on(
    tmp_path: Path,
    stack: Stack,
    responder: Responder,
    alertmanager: Peer,
    target: Container,
) -> None:
    """Prometheus fires a shipped rule; through Alertmanager the responder acts on the container.

    rules/prometheus/responder_alerts.yml is evaluated unchanged, on metrics of a container that
    really restarts; the shipped playbook runs on the container the metric's label names.
    """
    expected = expected_for(ALERT)
    assert "for" not in shipped_rule(ALERT), "the rule now waits: override `for` in the copy"
    name = str(target.name)
    networks = _networks(target)
    async with stack.on_failure(), CadvisorStandIn(target) as cadvisor:
        config = prometheus_config(tmp_path, responder, alertmanager, cadvisor.address)
        async with run_prometheus(config, tmp_path, stack) as prometheus:
            jobs = await stack.until("every scrape target up", targets_up(prometheus))
            assert jobs == {"responder", "cadvisor"}  # the stack's responder job works as is
            for restart in range(RESTARTS + 1):
                if restart:
                    await asyncio.to_thread(target.restart, timeout=0)
                await stack.until(
                    f"Prometheus counting {restart} restarts of {name}",
                    counted(
                        prometheus,
                        f'changes(container_start_time_seconds{{name="{name}"}}[15m])',
                        restart,
                    ),
                )
            incident = await stack.until(
                f"an incident of {expected.playbook} on {name}",
                lambda: responder.incident(expected.playbook, name),
            )
            event = await responder.get(f"/v1/events/{incident['first_event']}")
            assert event["labels"]["instance"] == cadvisor.address  # from the scrape, not us
            assert event["labels"]["container"] == event["labels"]["name"] == name
            await assert_delivered_with_the_token(alertmanager, responder, refused=0)
            assert_incident(incident, expected, target)
            assert_container(target, expected, networks)
            assert_evidence_and_report(responder, incident)
            # ContainerRestarted fired too (one restart is enough); its playbook only notifies.
            restarted = expected_for("ContainerRestarted")
            other = await stack.until(
                f"an incident of {restarted.playbook} on {name}",
                lambda: responder.incident(restarted.playbook, name),
            )
            assert other["state"] == restarted.state == "notified"
