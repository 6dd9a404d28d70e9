"""After the steps: messages through the outbox, the report, the audit trail, and release notices."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from _incidents import FAST
from _receiver import Receiver
from pydantic import SecretStr

from responder.audit import verify_chain
from responder.notifications.channels import PagerDutyChannel, WebhookChannel
from responder.secrets import SecretRef
from responder.settings import AuthSettings, IncidentSettings, NotificationSettings
from responder.web.state import INCIDENTS, SETTINGS, WORKER

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    import docker
    from aiohttp.test_utils import TestClient
    from aiohttp.web import Application
    from conftest import ClientFactory

pytestmark = pytest.mark.docker

PLAYBOOK = """\
name: contain-shell
match:
  rules: [Terminal shell in container]
steps:
  - action: docker:snapshot
  - action: docker:isolate
  - action: docker:pause
  - action: notify
    with: {channels: [hook, pager], message: "Shell by {{ event.fields['user.name'] }}"}
"""
QUICK_OUTBOX = NotificationSettings(
    retry_backoff=timedelta(milliseconds=20),
    retry_backoff_max=timedelta(milliseconds=100),
    poll_interval=timedelta(milliseconds=100),
)
ADMIN = "admin-" + "x" * 20


def shell(container: Any, user: str = "root") -> dict[str, Any]:
    """A Falco body about a shell in `container`."""
    return {
        "rule": "Terminal shell in container",
        "priority": "Critical",
        "hostname": "host-a",
        "output": f"A shell was spawned in {container.name} by {user} {{{{ 7*7 }}}}",
        "time": "2026-11-24T03:12:45.123456789Z",
        "output_fields": {
            "container.id": container.id[:12],
            "container.name": container.name,
            "user.name": user,
        },
    }


@pytest.fixture
async def far_ends() -> AsyncIterator[tuple[Receiver, Receiver]]:
    """A webhook receiver and a PagerDuty stand-in, both up."""
    hook, pager = Receiver(), Receiver()
    pager.status = 202
    await hook.start()
    await pager.start()
    yield hook, pager
    await hook.stop()
    await pager.stop()


@pytest.fixture
def target(docker_client: docker.DockerClient, test_image: str) -> Iterator[Any]:
    """A running container, removed afterwards."""
    container = docker_client.containers.run(
        test_image, ["sleep", "300"], detach=True, name=f"resp-{secrets.token_hex(4)}"
    )
    yield container
    container.remove(force=True)


@pytest.fixture
def start(
    make_client: ClientFactory,
    tmp_path: Path,
    far_ends: tuple[Receiver, Receiver],
    monkeypatch: pytest.MonkeyPatch,
) -> ClientFactory:
    """Start the app with a webhook and a PagerDuty channel pointing at the local far ends."""
    hook, pager = far_ends
    monkeypatch.setenv("TEST_PD_KEY", "R0UT1NGKEY")
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "shell.yaml").write_text(PLAYBOOK)

    async def make(**changes: Any) -> TestClient[Any, Application]:
        return await make_client(**(_defaults(playbooks, hook, pager) | changes))

    return make


@pytest.fixture
async def client(start: ClientFactory) -> TestClient[Any, Application]:
    """The app as `start` makes it, with nothing changed."""
    return await start()


def _defaults(playbooks: Path, hook: Receiver, pager: Receiver) -> dict[str, Any]:
    return {
        "playbooks": playbooks,
        "limits": FAST,
        "notifications": QUICK_OUTBOX,
        "auth": AuthSettings(admin_token=SecretStr(ADMIN)),
        "channels": {
            "hook": WebhookChannel(url=hook.url),
            "pager": PagerDutyChannel(routing_key=SecretRef(env="TEST_PD_KEY"), url=pager.url),
        },
    }


async def contained(client: TestClient[Any, Application], body: dict[str, Any]) -> Any:
    """Post the event, wait for its incident to finish, return the incident."""
    assert (await client.post("/v1/events/falco", json=body)).status == 202
    async with asyncio.timeout(60):
        await client.app[WORKER].idle()
    [row] = await client.app[INCIDENTS].run(lambda s: s.list(10))
    return row


async def test_a_contained_incident_pages_with_what_was_done_and_how_to_undo_it(
    client: TestClient[Any, Application], far_ends: tuple[Receiver, Receiver], target: Any
) -> None:
    """The webhook gets the whole story; PagerDuty gets a trigger keyed by the incident."""
    hook, pager = far_ends
    incident = await contained(client, shell(target, "mallory"))
    assert incident.state == "contained"
    [webhook] = await hook.wait_for(1)
    sent = webhook.json()["message"]
    assert sent["state"] == "contained"
    assert sent["container"] == target.name
    assert sent["host"] == "host-a"
    text = sent["text"]
    assert "Shell by mallory" in text
    assert "docker:pause" in text
    assert f"Undo: {client.app[SETTINGS].release_command(incident.id)}" in text
    assert "{{ 7*7 }}" in text  # alert text is printed, never evaluated
    assert "mallory 49" not in text
    [trigger] = await pager.wait_for(1)
    event = trigger.json()
    assert event["event_action"] == "trigger"
    assert event["routing_key"] == "R0UT1NGKEY"
    assert event["dedup_key"] == f"responder-{incident.id}"


async def test_the_report_is_written_in_three_formats_and_again_after_release(
    client: TestClient[Any, Application], target: Any
) -> None:
    """Markdown, JSON and HTML under the data directory; release rewrites them as released."""
    incident = await contained(client, shell(target))
    reports = client.app[SETTINGS].data_dir / "reports" / incident.id
    assert {p.name for p in reports.iterdir()} >= {"report.md", "report.json", "report.html"}
    assert json.loads((reports / "report.json").read_text())["incident"]["state"] == "contained"
    answer = await client.post(
        f"/v1/incidents/{incident.id}/release", headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert answer.status == 200
    assert json.loads((reports / "report.json").read_text())["incident"]["state"] == "released"
    served = await client.get(  # no read token configured: the admin token reads
        f"/v1/incidents/{incident.id}/report?format=md",
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert served.status == 200
    assert "released" in await served.text()


async def test_the_report_file_shows_delivery_once_messages_are_sent(
    client: TestClient[Any, Application], far_ends: tuple[Receiver, Receiver], target: Any
) -> None:
    """The report written at the end of the steps is rewritten when its messages go out."""
    hook, pager = far_ends
    incident = await contained(client, shell(target))
    await hook.wait_for(1)
    await pager.wait_for(1)
    path = client.app[SETTINGS].data_dir / "reports" / incident.id / "report.json"
    async with asyncio.timeout(10):
        while True:
            states = [n["state"] for n in json.loads(path.read_text())["notifications"]]
            if states == ["sent", "sent"]:
                break
            await asyncio.sleep(0.05)


async def test_a_second_release_sends_no_second_notice(
    client: TestClient[Any, Application], far_ends: tuple[Receiver, Receiver], target: Any
) -> None:
    """Releasing again finds everything undone already: nobody is told twice."""
    hook, _ = far_ends
    incident = await contained(client, shell(target))
    url = f"/v1/incidents/{incident.id}/release"
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert (await client.post(url, headers=admin)).status == 200
    await hook.wait_for(2)
    assert (await client.post(url, headers=admin)).status == 200
    await asyncio.sleep(0.5)  # a second notice, if there were one, would arrive by now
    assert [r.json()["message"]["kind"] for r in hook.received] == ["incident", "release"]


async def test_release_resolves_pagerduty_and_tells_the_webhook(
    client: TestClient[Any, Application], far_ends: tuple[Receiver, Receiver], target: Any
) -> None:
    """After release: a resolve with the same dedup key, and a release notice, after the trigger."""
    hook, pager = far_ends
    incident = await contained(client, shell(target))
    await client.post(
        f"/v1/incidents/{incident.id}/release", headers={"Authorization": f"Bearer {ADMIN}"}
    )
    trigger, resolve = await pager.wait_for(2)
    assert trigger.json()["event_action"] == "trigger"
    assert resolve.json() == {
        "routing_key": "R0UT1NGKEY",
        "event_action": "resolve",
        "dedup_key": f"responder-{incident.id}",
    }
    _, notice = await hook.wait_for(2)
    assert notice.json()["message"]["kind"] == "release"
    assert notice.json()["message"]["state"] == "released"


async def test_every_decision_is_in_a_verifiable_audit_chain(
    client: TestClient[Any, Application], far_ends: tuple[Receiver, Receiver], target: Any
) -> None:
    """Accepted, matched, opened, each step, queued and sent, released: one chained line each."""
    hook, pager = far_ends
    incident = await contained(client, shell(target))
    await hook.wait_for(1)
    await pager.wait_for(1)
    await client.post(
        f"/v1/incidents/{incident.id}/release", headers={"Authorization": f"Bearer {ADMIN}"}
    )
    await pager.wait_for(2)
    await asyncio.sleep(0.2)  # the deliverer records `sent` just after the far end answers
    path = client.app[SETTINGS].data_dir / "audit.jsonl"
    kinds = [json.loads(line)["kind"] for line in path.read_text().splitlines()]
    for kind in (
        "event.accepted",
        "event.matched",
        "incident.opened",
        "step.started",
        "step.finished",
        "incident.finished",
        "notification.queued",
        "notification.sent",
        "incident.released",
        "report.written",
    ):
        assert kind in kinds, kind
    assert kinds.count("step.finished") == 4
    assert verify_chain(path).intact


async def test_a_dry_run_message_says_plainly_that_nothing_was_changed(
    start: ClientFactory, far_ends: tuple[Receiver, Receiver], target: Any
) -> None:
    """Dry-run: the container keeps running, and the message says DRY RUN and what it would do."""
    hook, _ = far_ends
    client = await start(incidents=IncidentSettings(dry_run=True))
    incident = await contained(client, shell(target))
    assert incident.state == "dry-run"
    target.reload()
    assert target.status == "running"
    [webhook] = await hook.wait_for(1)
    sent = webhook.json()["message"]
    assert sent["dry_run"] is True
    assert sent["title"].startswith("[DRY-RUN]")
    assert "DRY RUN: nothing was changed" in sent["text"]
    assert "Would do:" in sent["text"]
    assert sent["release_command"] is None


async def test_a_dry_run_notify_before_the_containment_offers_no_undo_either(
    start: ClientFactory, far_ends: tuple[Receiver, Receiver], target: Any, tmp_path: Path
) -> None:
    """Notify first, pause after, in dry-run: nothing will change, so there is nothing to undo."""
    hook, _ = far_ends
    playbooks = tmp_path / "notify-first"
    playbooks.mkdir()
    (playbooks / "p.yaml").write_text(
        "name: notify-first\nmatch: {rules: [Terminal shell in container]}\ndry_run: true\n"
        "steps:\n  - action: notify\n    with: {channels: [hook]}\n  - action: docker:pause\n"
    )
    client = await start(playbooks=playbooks)
    await contained(client, shell(target))
    [webhook] = await hook.wait_for(1)
    assert webhook.json()["message"]["release_command"] is None
    assert "Undo:" not in webhook.json()["message"]["text"]


async def test_a_webhook_that_is_down_delays_nothing_and_shows_in_readyz(
    client: TestClient[Any, Application], far_ends: tuple[Receiver, Receiver], target: Any
) -> None:
    """Containment finishes while the webhook is down; /readyz names it; it delivers once back."""
    hook, _ = far_ends
    await hook.stop()
    incident = await contained(client, shell(target))
    assert incident.state == "contained"
    async with asyncio.timeout(10):
        while True:
            ready = await (await client.get("/readyz")).json()
            if ready["notifications"]["degraded"] == ["hook"]:
                break
            await asyncio.sleep(0.05)
    assert ready["status"] == "ready"
    assert ready["notifications"]["channels"]["pager"]["failing"] == 0  # healthy ones listed too
    admin = {"Authorization": f"Bearer {ADMIN}"}  # no read token configured: the admin one reads
    view = await (await client.get(f"/v1/incidents/{incident.id}", headers=admin)).json()
    [pending] = [n for n in view["notifications"] if n["channel"] == "hook"]
    assert pending["state"] == "pending"
    assert pending["last_error"]
    await hook.start()
    [webhook] = await hook.wait_for(1)
    assert webhook.json()["message"]["incident_id"] == incident.id
