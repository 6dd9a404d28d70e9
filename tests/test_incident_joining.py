"""Which incident an alert joins: a resolved alert never shields a firing one; host alerts never merge.

Against the real app and engine. A repeat joins the open incident of its playbook and subject
(the container's full id; for an alert with no container, what makes it distinct): never one
a resolved alert opened, never one about another host, certificate or label set.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

import pytest
from _incidents import FAST, incidents_of, settle

from responder.cli import main
from responder.web.state import INCIDENTS, OUTBOX

if TYPE_CHECKING:
    from pathlib import Path

    from _docker import Resources
    from aiohttp.test_utils import TestClient
    from aiohttp.web import Application
    from conftest import ClientFactory

CONTAIN = """\
name: contain-compromised
match:
  alertnames: [ContainerCompromised]
steps:
  - action: docker:pause
  - action: notify
    with: {channels: [oncall]}
"""
"""No `status` condition: the safety rule alone must keep a resolved alert from containing."""

NOTIFY_HOSTS = """\
name: page-host-alerts
match:
  alertnames: [CertificateExpiryImminent, HostDiskFull]
steps:
  - action: notify
    with: {channels: [oncall]}
---
name: page-host-shells
match:
  rules: [Fileless execution via memfd_create]
steps:
  - action: notify
    with: {channels: [oncall]}
"""


@pytest.fixture
def playbooks(tmp_path: Path) -> Path:
    """Both test playbook files."""
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "contain.yaml").write_text(CONTAIN)
    (directory / "hosts.yaml").write_text(NOTIFY_HOSTS)
    return directory


def am_alert(status: str, labels: dict[str, str], starts: str = "2026-12-06T23:00:00Z") -> Any:
    """One alert of an Alertmanager group."""
    alert: dict[str, Any] = {"status": status, "labels": labels, "startsAt": starts}
    if status == "resolved":
        alert["endsAt"] = "2026-12-06T23:05:00Z"
    return alert


def group(*alerts: Any) -> dict[str, Any]:
    """An Alertmanager webhook group (v4) holding the alerts."""
    return {"version": "4", "status": "firing", "receiver": "responder", "alerts": list(alerts)}


def compromised(status: str, container: str, starts: str = "2026-12-06T23:00:00Z") -> Any:
    """A `ContainerCompromised` alert about `container`, by name."""
    labels = {"alertname": "ContainerCompromised", "severity": "critical", "name": container}
    return am_alert(status, labels, starts)


async def post_groups(client: TestClient[Any, Application], *bodies: dict[str, Any]) -> None:
    """POST each group in turn, then wait for the worker."""
    for body in bodies:
        response = await client.post("/v1/events/alertmanager", json=body)
        assert response.status in {200, 202}, await response.text()
    await settle(client)


async def queued_for(client: TestClient[Any, Application], incident_id: str) -> int:
    """How many messages were queued for the incident."""
    rows = await client.app[OUTBOX].run(lambda store: store.for_incident(incident_id))
    return len(rows)


@pytest.mark.docker
@pytest.mark.parametrize(
    "bodies",
    [
        # (statuses in each body, in order)
        [["resolved", "firing"]],
        [["resolved", "resolved", "firing"]],
        [["resolved"], ["firing"]],
        [["resolved"], ["resolved", "firing"]],
        [["firing", "resolved"]],
        [["firing"], ["resolved"]],
    ],
    ids=lambda bodies: "|".join(",".join(b) for b in bodies),
)
async def test_a_resolved_alert_never_shields_a_firing_one_about_the_same_container(
    make_client: ClientFactory,
    playbooks: Path,
    resources: Resources,
    bodies: list[list[str]],
) -> None:
    """Regression: a resolved alert listed first opened the incident; the firing one joined it."""
    container = resources.container()
    client = await make_client(playbooks=playbooks, limits=FAST)
    starts = iter(f"2026-12-06T23:0{n}:00Z" for n in range(9))
    await post_groups(
        client,
        *(group(*(compromised(s, container.name, next(starts)) for s in body)) for body in bodies),
    )
    assert resources.inspect(container.id)["State"]["Status"] == "paused"
    incidents = await incidents_of(client)
    contained = [i for i in incidents if i.state == "contained"]
    assert len(contained) == 1
    assert all(i.state in {"contained", "resolved"} for i in incidents)
    assert not any(
        s.status == "done" for i in incidents if i.state == "resolved" for s in i.steps[:1]
    )


@pytest.mark.docker
@pytest.mark.parametrize("count", [1, 3])
async def test_a_resolved_alert_matched_by_a_playbook_never_contains(
    make_client: ClientFactory, playbooks: Path, resources: Resources, count: int
) -> None:
    """The safety rule itself, with no `status` condition in the playbook: notify only."""
    container = resources.container()
    client = await make_client(playbooks=playbooks, limits=FAST)
    alerts = [
        compromised("resolved", container.name, f"2026-12-06T2{n}:00:00Z") for n in range(count)
    ]
    await post_groups(client, group(*alerts))
    assert resources.inspect(container.id)["State"]["Status"] == "running"
    incidents = await incidents_of(client)
    assert {i.state for i in incidents} == {"resolved"}
    assert incidents[-1].steps[0].status == "skipped"
    assert incidents[-1].steps[0].detail == "skipped: resolved (the alert is no longer firing)"
    assert incidents[-1].steps[1].status == "done"  # on-call still hears of it


@pytest.mark.docker
def test_plan_and_playbook_tests_say_a_resolved_alert_would_not_contain(
    playbooks: Path, resources: Resources, capsys: pytest.CaptureFixture[str]
) -> None:
    """`plan` and `test` apply the same rule to a resolved alert as the run does."""
    container = resources.container()
    event = playbooks.parent / "resolved.json"
    event.write_text(json.dumps(group(compromised("resolved", container.name))))
    assert main(["plan", str(event), "--playbooks", str(playbooks)]) == 0
    out = capsys.readouterr().out
    assert "would skip: resolved (the alert is no longer firing)" in out
    assert "would pause" not in out
    cases = playbooks / "resolved.test.yaml"
    cases.write_text(
        "tests:\n"
        "  - name: a resolved alert is notified, never contained\n"
        f"    event_file: {event.name}\n"
        "    expect:\n"
        "      - playbook: contain-compromised\n"
        "        steps: [notify]\n"
        "        skipped: [docker:pause]\n"
        "        state: resolved\n"
    )
    (playbooks / event.name).write_text(event.read_text())
    assert main(["test", str(playbooks), "--playbooks", str(playbooks)]) == 0, capsys.readouterr()


@pytest.mark.parametrize(
    "alerts",
    [
        [
            {"alertname": "CertificateExpiryImminent", "instance": "api.example.com:443"},
            {"alertname": "CertificateExpiryImminent", "instance": "shop.example.com:443"},
        ],
        [
            {"alertname": "HostDiskFull", "host": "node-1", "device": "/dev/sda1"},
            {"alertname": "HostDiskFull", "host": "node-2", "device": "/dev/sda1"},
            {"alertname": "HostDiskFull", "host": "node-1", "device": "/dev/sdb1"},
        ],
    ],
    ids=["certificates", "disks"],
)
async def test_alerts_without_a_container_are_one_incident_per_label_set(
    make_client: ClientFactory, playbooks: Path, alerts: list[dict[str, str]]
) -> None:
    """Regression: two certificates' alerts became one incident; the second was never notified."""
    client = await make_client(playbooks=playbooks, limits=FAST)
    await post_groups(client, group(*(am_alert("firing", labels) for labels in alerts)))
    # The same alerts again, firing anew (a new start): repeats, counted where they belong.
    await post_groups(
        client,
        group(*(am_alert("firing", labels, "2026-12-06T23:30:00Z") for labels in alerts)),
    )
    incidents = await incidents_of(client)
    assert len(incidents) == len(alerts)
    assert {i.event_count for i in incidents} == {2}
    for incident in incidents:
        assert await queued_for(client, incident.id) == 1


def fileless(host: str, n: int) -> dict[str, Any]:
    """A Falco event about a process on the host itself (no container)."""
    return {
        "rule": "Fileless execution via memfd_create",
        "priority": "Critical",
        "hostname": host,
        "output": f"fileless execution on {host} #{n}",
        "time": 1_790_000_000_000_000_000 + n,
        "output_fields": {"container.id": "host", "proc.name": "3"},
    }


@pytest.mark.parametrize("hosts", [["node-1", "node-2"], ["a", "b", "c"], ["node-1", "node-1"]])
async def test_host_events_from_different_hosts_are_different_incidents(
    make_client: ClientFactory, playbooks: Path, hosts: list[str]
) -> None:
    """Regression: host-level Falco events from two hosts became one incident."""
    client = await make_client(playbooks=playbooks, limits=FAST)
    for n, host in enumerate(hosts):
        response = await client.post("/v1/events/falco", json=fileless(host, n))
        assert response.status == 202
    await settle(client)
    incidents = await incidents_of(client)
    assert len(incidents) == len(set(hosts))
    assert sum(i.event_count for i in incidents) == len(hosts)
    for incident in incidents:
        assert incident.target is None
        assert await queued_for(client, incident.id) == 1


async def test_the_same_host_event_under_another_rule_is_another_incident(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    """Host and rule together key a host event: one playbook, two rules, two incidents."""
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "any.yaml").write_text(
        "name: page-any-host-event\nmatch: {source: falco}\n"
        "steps:\n  - action: notify\n    with: {channels: [oncall]}\n"
    )
    client = await make_client(playbooks=directory, limits=FAST)
    for n, rule in enumerate(["Rule A", "Rule B", "Rule A"]):
        body = {**fileless("node-1", n), "rule": rule, "output": secrets.token_hex(4)}
        assert (await client.post("/v1/events/falco", json=body)).status == 202
    await settle(client)
    incidents = await incidents_of(client)
    assert sorted(i.event_count for i in incidents) == [1, 2]
    store = client.app[INCIDENTS]
    assert len(await store.run(lambda s: s.list(10))) == 2
