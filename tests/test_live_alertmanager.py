"""A real Alertmanager (Debian `prometheus-alertmanager`) delivering to the real app with a bearer token."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from _alertmanager import post_alerts, run_alertmanager
from pydantic import SecretStr

from responder.app import create_app
from responder.journal import EventQuery
from responder.settings import AuthSettings, Settings
from responder.web.state import INCIDENTS, JOURNAL, WORKER

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    import docker
    from aiohttp.test_utils import TestServer

TOKEN = "am-bearer-token-7f3a"
PLAYBOOK = """\
name: pause-compromised
match:
  alertnames: [ContainerCompromised]
  status: firing
steps:
  - action: docker:pause
  - action: notify
    with: {channels: [oncall]}
"""
CONFIG = """
route:
  receiver: responder
  group_by: [alertname, container]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: responder
    webhook_configs:
      - url: http://127.0.0.1:{port}/v1/events/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: {token_file}
"""


@pytest.fixture
async def responder_server(aiohttp_server: Any, tmp_path: Path) -> TestServer:
    """The real app with a bearer token, listening on a real port."""
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "compromised.yaml").write_text(PLAYBOOK)
    settings = Settings(
        data_dir=tmp_path / "data",
        playbooks=playbooks,
        auth=AuthSettings(token=SecretStr(TOKEN)),
    )
    server: TestServer = await aiohttp_server(create_app(settings))
    return server


@pytest.fixture
async def alertmanager(responder_server: TestServer, tmp_path: Path) -> AsyncIterator[str]:
    """Alertmanager configured to deliver to `responder_server`; yields its URL."""
    token_file = tmp_path / "am-token"
    token_file.write_text(TOKEN)
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.format(port=responder_server.port, token_file=token_file))
    async with run_alertmanager(config, tmp_path) as peer:
        yield peer.url


async def _post_alert(
    url: str,
    ends_at: datetime | None = None,
    alertname: str = "ContainerHighCPU",
    container: str = "checkout-2",
) -> None:
    alert: dict[str, Any] = {
        "labels": {
            "alertname": alertname,
            "container": container,
            "severity": "critical",
        },
        "annotations": {"summary": "checkout-2 above 95% CPU for 5m"},
        "startsAt": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    await post_alerts(url, [alert])


async def _wait_for(server: TestServer, status: str) -> list[Any]:
    journal = server.app[JOURNAL]
    for _ in range(300):  # up to 30 s: Alertmanager delivers after group_wait / group_interval
        rows = [
            r for r in await journal.events(EventQuery(source="alertmanager")) if r.status == status
        ]
        if rows:
            return rows
        await asyncio.sleep(0.1)
    pytest.fail(f"Alertmanager delivered no {status} alert within 30 s")


async def test_live_alertmanager_delivers_firing_then_resolved(
    responder_server: TestServer, alertmanager: str
) -> None:
    """Alertmanager's own webhook, with its bearer token, is accepted and journaled per status."""
    await _post_alert(alertmanager)
    [firing] = await _wait_for(responder_server, "firing")
    assert firing.name == "ContainerHighCPU"
    assert firing.container_name == "checkout-2"
    assert firing.priority.label == "Critical"
    await _post_alert(alertmanager, ends_at=datetime.now(UTC) - timedelta(seconds=1))
    [resolved] = await _wait_for(responder_server, "resolved")
    assert resolved.container_name == "checkout-2"
    event = await responder_server.app[JOURNAL].event(resolved.id)
    assert event is not None
    assert event.raw["group"]["receiver"] == "responder"  # type: ignore[index,call-overload]


@pytest.mark.docker
async def test_live_alertmanager_alert_contains_the_named_container(
    responder_server: TestServer,
    alertmanager: str,
    docker_client: docker.DockerClient,
    test_image: str,
) -> None:
    """A real Alertmanager delivery naming a real container ends with that container paused."""
    container = docker_client.containers.run(
        test_image, ["sleep", "300"], detach=True, name=f"am-target-{secrets.token_hex(3)}"
    )
    try:
        await _post_alert(
            alertmanager, alertname="ContainerCompromised", container=str(container.name)
        )
        async with asyncio.timeout(30):
            await _wait_for(responder_server, "firing")
            await responder_server.app[WORKER].idle()
        rows = await responder_server.app[INCIDENTS].run(lambda store: store.list(10))
        assert [(r.playbook, r.state) for r in rows] == [("pause-compromised", "contained")]
        container.reload()
        assert container.status == "paused"
    finally:
        container.remove(force=True)
