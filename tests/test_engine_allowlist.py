"""The socket proxy's allow-lists (compose.yml) against the calls the responder really makes.

Issue 15, section 7: the proxy let a compromised responder commit over any local image tag,
start and kill any container and create networks. The lists are read out of compose.yml and
applied in front of the real engine (tests/_socket_proxy.py); the shipped playbooks and
`responder release` run through them, so a call they need and the lists refuse, an allowed
call nothing needs, an opt-in docs/deploy.md describes wrongly, or a table that no longer says
what the file allows, fails here.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _docker import wait_for
from _socket_proxy import AllowList, Call, FilteringProxy

from responder import __version__
from responder.actions import ActionContext, ActionRegistry, default_actions
from responder.actions.isolate import Isolate, IsolateParams
from responder.actions.lifecycle import Kill, KillParams, Stop, StopParams
from responder.actions.snapshot import Snapshot, SnapshotParams
from responder.cli import main
from responder.engine import SdkEngine
from responder.errors import PermanentError
from responder.journal import Target
from responder.playbooks import load_playbooks
from responder.settings import DockerSettings, Limits
from responder.web.state import INCIDENTS, WORKER

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from _docker import Resources
    from aiohttp.test_utils import TestClient
    from aiohttp.web import Application
    from conftest import ClientFactory

    from responder.engine import ContainerInfo
    from responder.incidents import IncidentRecord
    from responder.playbooks._loader import LoadedPlaybook

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "playbooks"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
VERSIONED = "/v1.41"
FULL_ID = "0123456789abcdef" * 4
FAST = Limits(
    retries=0,
    retry_backoff=timedelta(milliseconds=10),
    retry_backoff_max=timedelta(milliseconds=50),
    max_containments=50,
)
# The live labels a container needs for a playbook's container selector to choose it.
CONTAINER_LABELS = {"contain-shell-in-production": {"environment": "production"}}
_VERSION_PREFIX = re.compile(r"^/v1\.[0-9]+")


def _shipped() -> list[LoadedPlaybook]:
    """The shipped playbooks with at least one docker step, in the order they are tried."""
    loaded = load_playbooks([SHIPPED], ActionRegistry(default_actions()), directory=SHIPPED)
    return [
        p for p in loaded.playbooks if any(s.action.startswith("docker:") for s in p.playbook.steps)
    ]


SHIPPED_DOCKER = [p.name for p in _shipped()]


# --- the lists, without an engine ----------------------------------------------------------------


def test_the_proxy_allows_only_get_and_post() -> None:
    """No HEAD, PUT or DELETE list: nothing the responder does needs one."""
    assert set(AllowList.from_compose().rules) == {"GET", "POST"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_ping"),
        ("GET", "/version"),
        ("GET", f"{VERSIONED}/version"),
        ("GET", f"{VERSIONED}/containers/json"),
        ("GET", f"{VERSIONED}/containers/web-1/json"),
        ("GET", f"{VERSIONED}/containers/6b9f19590ba3/json"),
        ("GET", f"{VERSIONED}/containers/{FULL_ID}/json"),
        ("GET", f"{VERSIONED}/containers/{FULL_ID}/top"),
        ("GET", f"{VERSIONED}/containers/{FULL_ID}/logs"),
        ("GET", f"{VERSIONED}/containers/{FULL_ID}/changes"),
        ("GET", f"{VERSIONED}/containers/{FULL_ID}/export"),
        ("GET", f"{VERSIONED}/networks/responder_docker-api"),
        ("POST", f"{VERSIONED}/containers/{FULL_ID}/pause"),
        ("POST", f"/v1.24/containers/{FULL_ID}/unpause"),
        ("POST", f"{VERSIONED}/networks/bridge/disconnect"),
        ("POST", f"{VERSIONED}/networks/app.net_1/connect"),
    ],
)
def test_the_proxy_allows_what_the_responder_needs(method: str, path: str) -> None:
    """Resolution, evidence, pause and network changes by full id pass."""
    assert AllowList.from_compose().allows(method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"{VERSIONED}/commit"),
        ("POST", "/commit"),
        ("POST", f"{VERSIONED}/networks/create"),
        ("POST", f"{VERSIONED}/containers/{FULL_ID}/kill"),
        ("POST", f"{VERSIONED}/containers/{FULL_ID}/stop"),
        ("POST", f"{VERSIONED}/containers/{FULL_ID}/start"),
        ("POST", f"{VERSIONED}/containers/{FULL_ID}/restart"),
        ("POST", f"{VERSIONED}/containers/{FULL_ID}/exec"),
        ("POST", f"{VERSIONED}/containers/{FULL_ID}/update"),
        ("POST", f"{VERSIONED}/containers/create"),
        ("POST", f"{VERSIONED}/images/create"),
        ("POST", f"{VERSIONED}/build"),
        ("POST", f"{VERSIONED}/containers/web-1/pause"),
        ("POST", f"{VERSIONED}/containers/6b9f19590ba3/pause"),
        ("POST", f"{VERSIONED}/containers/{FULL_ID[:63]}/pause"),
        ("POST", f"{VERSIONED}/containers/{FULL_ID.upper()}/pause"),
        ("POST", f"{VERSIONED}/containers/{FULL_ID}/pause/../kill"),
        ("POST", f"{VERSIONED}/containers/{FULL_ID}/pause\n"),
        ("POST", f"{VERSIONED}/networks/create/../bridge/connect/x"),
        ("GET", f"{VERSIONED}/containers/web-1/export"),
        ("GET", f"{VERSIONED}/containers/6b9f19590ba3/logs"),
        ("GET", f"{VERSIONED}/containers/{FULL_ID}/archive"),
        ("GET", f"{VERSIONED}/containers/a/../../images/json"),
        ("GET", f"{VERSIONED}/containers/../json"),
        ("GET", f"{VERSIONED}/images/json"),
        ("GET", f"{VERSIONED}/images/sha256:{FULL_ID}/json"),
        ("GET", f"{VERSIONED}/info"),
        ("GET", f"{VERSIONED}/events"),
        ("GET", f"{VERSIONED}/secrets"),
        ("GET", f"{VERSIONED}/v1.41/version"),
        ("HEAD", f"{VERSIONED}/_ping"),
        ("DELETE", f"{VERSIONED}/containers/{FULL_ID}"),
        ("PUT", f"{VERSIONED}/containers/{FULL_ID}/archive"),
    ],
)
def test_the_proxy_refuses_what_no_shipped_playbook_needs(method: str, path: str) -> None:
    """Commit, kill, stop, start, networks/create, a name or short id in a POST, and the rest."""
    assert not AllowList.from_compose().allows(method, path)


# --- docs/deploy.md says what the lists hold ------------------------------------------------------


def _table(marker: str) -> list[list[str]]:
    """The rows of the Markdown table after `<!-- marker -->` in docs/deploy.md, cells unescaped."""
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    start = text.index(f"<!-- {marker} -->")
    rows: list[list[str]] = []
    for line in text[start:].splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if not all(set(c) <= set("-: ") for c in cells):
            rows.append(cells)
    return rows[1:]  # the header row


def _code(cell: str) -> str:
    """The first `code span` of a table cell."""
    found = re.search(r"`([^`]+)`", cell)
    assert found, f"docs/deploy.md: no code span in table cell {cell!r}"
    return found[1]


def _alternatives(regex: str) -> list[str]:
    r"""The alternatives of compose.yml's `/(v1\.[0-9]+/)?(A|B|...)` form, split at depth 0."""
    prefix = "/(v1\\.[0-9]+/)?("
    assert regex.startswith(prefix), f"compose.yml: an allow-list not of the form {prefix}...)"
    assert regex.endswith(")"), f"compose.yml: an allow-list not of the form {prefix}...)"
    body, depth, parts, current = regex[len(prefix) : -1], 0, [], ""
    for char in body:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _allowed() -> set[tuple[str, str]]:
    rules = AllowList.from_compose().rules
    return {(method, alt) for method, regex in rules.items() for alt in _alternatives(regex)}


def test_deploy_doc_lists_exactly_the_allowed_calls() -> None:
    """Every row of the allowed-calls table is in compose.yml, and every allowed call has a row."""
    documented = {(_code(row[0]), _code(row[1])) for row in _table("allowed calls")}
    assert documented == _allowed(), (
        f"only in docs/deploy.md: {sorted(documented - _allowed())}; "
        f"only in compose.yml: {sorted(_allowed() - documented)}"
    )


def test_deploy_doc_says_what_each_allowed_call_is_for() -> None:
    """Each row names what makes the call and why."""
    for row in _table("allowed calls"):
        assert len(row) == len(("method", "path", "used by", "why")), f"docs/deploy.md: {row}"
        assert row[2], f"docs/deploy.md: nothing says what makes the call {row[:2]}"
        assert row[3], f"docs/deploy.md: nothing says why {row[:2]} is allowed"


def _opt_ins() -> dict[str, list[tuple[str, str]]]:
    """What each opt-in of docs/deploy.md adds: its name -> [(method, alternative)]."""
    opt_ins: dict[str, list[tuple[str, str]]] = {}
    name = ""
    for row in _table("opt-in calls"):
        name = _code(row[0]) if row[0] else name
        flag = _code(row[1])
        assert flag.startswith("-allow"), f"docs/deploy.md: {flag!r} is no proxy flag"
        opt_ins.setdefault(name, []).append((flag.removeprefix("-allow"), _code(row[2])))
    return opt_ins


def test_deploy_doc_opt_ins_are_the_refused_calls() -> None:
    """commit, quarantine networks, stop and kill each have an opt-in; none is allowed already."""
    opt_ins = _opt_ins()
    assert set(opt_ins) == {"commit: true", "quarantine_network", "docker:stop", "docker:kill"}
    for name, added in opt_ins.items():
        assert not set(added) & _allowed(), f"{name}: docs/deploy.md adds what is allowed already"


# --- the shipped playbooks and release, through the lists, on the real engine ----------------------


def _falco(playbook: LoadedPlaybook, container: ContainerInfo) -> tuple[str, dict[str, Any]]:
    rule = (playbook.playbook.match.rules or [""])[0]
    return "falco", {
        "rule": rule,
        "priority": "Critical",
        "hostname": "docker-host-1",
        "output": f"{rule} in {container.name}",
        "time": datetime.now(UTC).isoformat(),
        "output_fields": {"container.id": container.id[:12], "container.name": container.name},
    }


def _alertmanager(playbook: LoadedPlaybook, container: ContainerInfo) -> tuple[str, dict[str, Any]]:
    name = (playbook.playbook.match.alertnames or [""])[0]
    labels = {"alertname": name, "container": container.name, "severity": "critical"}
    return "alertmanager", {
        "version": "4",
        "status": "firing",
        "receiver": "responder",
        "groupLabels": {"alertname": name},
        "commonLabels": labels,
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": f"{name} on {container.name}"},
                "startsAt": datetime.now(UTC).isoformat(),
            }
        ],
    }


def _body(playbook: LoadedPlaybook, container: ContainerInfo) -> tuple[str, dict[str, Any]]:
    """An alert the playbook matches, about `container`: the endpoint's source and the body."""
    sources = playbook.playbook.match.source or ["falco"]
    return (_alertmanager if "alertmanager" in sources else _falco)(playbook, container)


async def _release(incident_id: str, data_dir: Path, proxy: FilteringProxy) -> int:
    """`responder release ID` as a process would run it, with DOCKER_HOST at the proxy."""
    arguments = ["release", "--data-dir", str(data_dir), incident_id]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DOCKER_HOST", proxy.url)
        return await asyncio.to_thread(main, arguments)


async def _contain_and_release(
    client: TestClient[Any, Application],
    data_dir: Path,
    proxy: FilteringProxy,
    targets: dict[str, ContainerInfo],
) -> None:
    """Alert on each target, wait for the worker, check each incident, release each."""
    assert (await client.get("/readyz")).status == 200  # the compose health check's call
    for name, container in targets.items():
        source, body = _body(_by_name(name), container)
        response = await client.post(f"/v1/events/{source}", json=body)
        assert response.status == 202, await response.text()
    async with asyncio.timeout(120):
        await client.app[WORKER].idle()
    by_playbook = await _incidents_by_playbook(client)
    refused = ", ".join(map(str, proxy.refused()))
    for name in targets:
        incident = by_playbook.get(name)
        assert incident is not None, (
            f"{name} opened no incident ({sorted(by_playbook)}); refused: {refused}"
        )
        failed = [f"{s.action}: {s.detail}" for s in incident.steps if s.status != "done"]
        assert not failed, f"{name}: {failed}; refused: {refused}"
        assert await _release(incident.id, data_dir, proxy) == 0, (
            f"{name}: release failed; refused: {refused}"
        )


async def _incidents_by_playbook(
    client: TestClient[Any, Application],
) -> dict[str, IncidentRecord]:
    """Every incident, with its steps, by the name of its playbook."""
    store = client.app[INCIDENTS]

    async def full(incident_id: str) -> IncidentRecord | None:
        return await store.run(lambda s: s.get(incident_id))

    records = [await full(row.id) for row in await store.run(lambda s: s.list(100))]
    return {record.playbook: record for record in records if record is not None}


def _by_name(name: str) -> LoadedPlaybook:
    return next(p for p in _shipped() if p.name == name)


@pytest.fixture
async def proxy(tmp_path: Path) -> AsyncIterator[FilteringProxy]:
    """compose.yml's allow-lists in front of the real engine."""
    async with FilteringProxy(AllowList.from_compose(), tmp_path / "docker.sock") as running:
        yield running


def _targets(resources: Resources, names: list[str]) -> dict[str, ContainerInfo]:
    network, _ = resources.network()
    return {
        name: resources.container(networks={network: {}}, labels=CONTAINER_LABELS.get(name))
        for name in names
    }


@pytest.mark.docker
@pytest.mark.parametrize("playbook", SHIPPED_DOCKER)
async def test_shipped_playbook_and_release_make_only_allowed_calls(
    playbook: str,
    make_client: ClientFactory,
    proxy: FilteringProxy,
    resources: Resources,
    tmp_path: Path,
) -> None:
    """The playbook contains its container and `responder release` undoes it; nothing refused."""
    targets = _targets(resources, [playbook])
    networks = list(resources.networks_of(targets[playbook].id))
    data_dir = tmp_path / "data"
    client = await make_client(
        playbooks=SHIPPED, data_dir=data_dir, docker=DockerSettings(url=proxy.url), limits=FAST
    )
    await _contain_and_release(client, data_dir, proxy, targets)
    assert proxy.calls, "the responder made no Docker call at all"
    assert proxy.refused() == []
    assert resources.info(targets[playbook].id).status == "running"
    assert list(resources.networks_of(targets[playbook].id)) == networks


@pytest.mark.docker
async def test_every_allowed_call_serves_a_shipped_playbook_or_release(
    make_client: ClientFactory, proxy: FilteringProxy, resources: Resources, tmp_path: Path
) -> None:
    """Each alternative of each list is used by some shipped playbook, release or /readyz."""
    targets = _targets(resources, SHIPPED_DOCKER)
    data_dir = tmp_path / "data"
    client = await make_client(
        playbooks=SHIPPED, data_dir=data_dir, docker=DockerSettings(url=proxy.url), limits=FAST
    )
    await _contain_and_release(client, data_dir, proxy, targets)
    # An alert's id that a decoy is named after: the engine answers the decoy for it, and the
    # container list finds the container whose id it begins (the only use of that rule).
    victim = next(iter(targets.values()))
    resources.container(name=victim.id[:12])
    engine = SdkEngine(DockerSettings(url=proxy.url))
    try:
        found = await engine.resolve(Target(id=victim.id[:12]))
    finally:
        await engine.close()
    assert found is not None
    assert found.id == victim.id
    unused = {
        (method, alternative)
        for method, alternative in _allowed()
        if not any(_uses(call, method, alternative) for call in proxy.calls if call.allowed)
    }
    assert not unused, f"allowed, and nothing calls it: {sorted(unused)}"


def _uses(call: Call, method: str, alternative: str) -> bool:
    return call.method == method and AllowList({method: f"/(v1\\.[0-9]+/)?({alternative})"}).allows(
        method, call.path
    )


# --- what stays off, and the documented way to turn it on ------------------------------------------


@pytest.fixture
async def through(proxy: FilteringProxy, tmp_path: Path) -> AsyncIterator[ActionContext]:
    """An action context whose engine is behind compose.yml's lists."""
    engine = SdkEngine(DockerSettings(url=proxy.url))
    yield ActionContext(
        engine=engine,
        incident_id="01JTEST0INCIDENT0ALLOWLIST",
        evidence_dir=tmp_path / "evidence",
        versions={"responder": __version__, "docker": "test"},
    )
    await engine.close()


def _opt_in(proxy: FilteringProxy, name: str) -> None:
    """Add to the proxy's lists what docs/deploy.md says to add for `name`, as it says to."""
    allow = proxy.allow
    for method, alternative in _opt_ins()[name]:
        allow = allow.with_alternative(method, alternative)
    proxy.allow = allow


def _refused(proxy: FilteringProxy) -> list[str]:
    """Each refused call as METHOD and its path without the version prefix."""
    return [f"{c.method} {_VERSION_PREFIX.sub('', c.path)}" for c in proxy.refused()]


def _evidence_images(resources: Resources, container: ContainerInfo) -> list[str]:
    """Tags of the images a commit of `container` made (adopted for removal)."""
    images = resources.client.images.list(name=f"responder-evidence/{container.name}")
    tags = [tag for image in images for tag in image.tags]
    for tag in tags:
        resources.adopt_image(tag)
    return tags


@pytest.mark.docker
async def test_commit_is_refused_by_default_and_no_image_is_written(
    through: ActionContext, proxy: FilteringProxy, resources: Resources
) -> None:
    """A snapshot asking for `commit` keeps its other evidence; the engine writes no image."""
    target = resources.container()
    outcome = await Snapshot().run(through, SnapshotParams(commit=True), target)
    assert [e["part"] for e in outcome.data["errors"]] == ["commit"]
    assert _refused(proxy) == ["POST /commit"]
    assert _evidence_images(resources, target) == []
    assert {a.kind for a in outcome.artifacts} == {"top", "inspect", "logs", "diff"}


@pytest.mark.docker
async def test_commit_works_with_the_documented_opt_in(
    through: ActionContext, proxy: FilteringProxy, resources: Resources
) -> None:
    """With the rules docs/deploy.md gives for `commit: true`, the image is committed."""
    _opt_in(proxy, "commit: true")
    target = resources.container()
    outcome = await Snapshot().run(through, SnapshotParams(commit=True), target)
    assert outcome.data["errors"] == []
    assert _refused(proxy) == []
    assert len(_evidence_images(resources, target)) == 1


@pytest.mark.docker
async def test_a_quarantine_network_is_refused_by_default_before_any_change(
    through: ActionContext, proxy: FilteringProxy, resources: Resources
) -> None:
    """`networks/create` is refused; the container keeps its networks; no network is made."""
    network, _ = resources.network()
    target = resources.container(networks={network: {}})
    quarantine = resources.name("quarantine")
    resources.adopt_network(quarantine)
    with pytest.raises(PermanentError, match="403"):
        await Isolate().run(through, IsolateParams(quarantine_network=quarantine), target)
    assert _refused(proxy) == ["POST /networks/create"]
    assert list(resources.networks_of(target.id)) == [network]
    assert resources.client.networks.list(names=[quarantine]) == []


@pytest.mark.docker
async def test_a_quarantine_network_works_with_the_documented_opt_in(
    through: ActionContext, proxy: FilteringProxy, resources: Resources
) -> None:
    """With `networks/create` allowed as docs/deploy.md says, isolate attaches it; release undoes."""
    _opt_in(proxy, "quarantine_network")
    network, _ = resources.network()
    target = resources.container(networks={network: {}})
    quarantine = resources.name("quarantine")
    resources.adopt_network(quarantine)
    isolate = Isolate()
    outcome = await isolate.run(through, IsolateParams(quarantine_network=quarantine), target)
    assert list(resources.networks_of(target.id)) == [quarantine]
    assert outcome.undo is not None
    released = await isolate.release(through, outcome.undo, target.id)
    assert released.status == "restored", released
    assert list(resources.networks_of(target.id)) == [network]
    assert _refused(proxy) == []


@pytest.mark.docker
async def test_stop_is_refused_by_default(
    through: ActionContext, proxy: FilteringProxy, resources: Resources
) -> None:
    """docker:stop fails for good (403) and the container runs on."""
    target = resources.container()
    with pytest.raises(PermanentError, match="403"):
        await Stop().run(through, StopParams(timeout=1), target)
    assert _refused(proxy) == [f"POST /containers/{resources.inspect(target.id)['Id']}/stop"]
    assert resources.info(target.id).status == "running"


@pytest.mark.docker
async def test_stop_and_its_release_work_with_the_documented_opt_in(
    through: ActionContext, proxy: FilteringProxy, resources: Resources
) -> None:
    """With stop and start allowed as docs/deploy.md says, stop stops and release starts."""
    _opt_in(proxy, "docker:stop")
    target = resources.container()
    stop = Stop()
    outcome = await stop.run(through, StopParams(timeout=1), target)
    assert resources.info(target.id).status == "exited"
    assert outcome.undo is not None
    released = await stop.release(through, outcome.undo, target.id)
    assert released.status == "restored", released
    assert resources.info(target.id).status == "running"
    assert _refused(proxy) == []


@pytest.mark.docker
async def test_kill_is_refused_by_default(
    through: ActionContext, proxy: FilteringProxy, resources: Resources
) -> None:
    """docker:kill fails for good (403) and the container runs on."""
    target = resources.container()
    with pytest.raises(PermanentError, match="403"):
        await Kill().run(through, KillParams(), target)
    assert _refused(proxy) == [f"POST /containers/{resources.inspect(target.id)['Id']}/kill"]
    assert resources.info(target.id).status == "running"


@pytest.mark.docker
async def test_kill_works_with_the_documented_opt_in(
    through: ActionContext, proxy: FilteringProxy, resources: Resources
) -> None:
    """With kill allowed as docs/deploy.md says, the container's process is killed."""
    _opt_in(proxy, "docker:kill")
    target = resources.container()
    await Kill().run(through, KillParams(), target)
    wait_for(lambda: resources.info(target.id).status == "exited", "the killed container to exit")
    assert _refused(proxy) == []
