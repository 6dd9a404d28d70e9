"""The real server, a webhook and a mail server that are down, a kill -9, and a restart.

The incident is contained while both channels are down; the server is killed with messages
still queued; the channels come back; the restarted server delivers each message exactly once,
and the audit chain still verifies.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from _faults import ServeProcess, audit_verify, read_incidents
from _peers import free_port
from _receiver import Receiver
from _smtp import Inbox
from aiosmtpd.controller import Controller

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import docker

pytestmark = pytest.mark.docker

PLAYBOOK = """\
name: contain-shell
match:
  rules: [Terminal shell in container]
steps:
  - action: docker:pause
  - action: notify
    with: {channels: [hook, mail]}
"""


def config(hook: Receiver, smtp_port: int) -> str:
    """A webhook and a plain SMTP channel, with quick retries so the test does not wait long."""
    return f"""\
channels:
  hook: {{kind: webhook, url: "{hook.url}"}}
  mail:
    kind: email
    host: 127.0.0.1
    port: {smtp_port}
    security: none
    sender: responder@example.org
    recipients: [oncall@example.org]
notifications:
  retry_backoff: 50ms
  retry_backoff_max: 200ms
  poll_interval: 100ms
"""


@pytest.fixture
def target(docker_client: docker.DockerClient, test_image: str) -> Iterator[Any]:
    """A running container, removed afterwards."""
    container = docker_client.containers.run(test_image, ["sleep", "300"], detach=True)
    yield container
    container.remove(force=True)


async def until(check: Callable[[], bool], what: str) -> None:
    """Wait up to 30 s for a condition (what the test waits for, not a timing assertion)."""
    deadline = time.monotonic() + 30
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within 30 s: {what}")
        await asyncio.sleep(0.05)


def outbox_rows(data_dir: Path) -> list[tuple[str, str, int]]:
    """(channel, state, attempts) of every queued message, read-only."""
    import sqlite3  # noqa: PLC0415 - only this helper reads the file directly

    path = data_dir / "outbox.sqlite3"
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("SELECT channel, state, attempts FROM outbox ORDER BY id").fetchall()
    finally:
        conn.close()


@pytest.mark.fault("notification channel down across kill -9")
async def test_messages_queued_before_a_kill_go_out_once_after_the_restart(
    tmp_path: Path, target: Any
) -> None:
    """Both channels down, kill -9 with messages queued, channels up, restart: one of each."""
    hook, inbox, smtp_port = Receiver(), Inbox(), free_port()
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "shell.yaml").write_text(PLAYBOOK)
    (tmp_path / "config.yaml").write_text(config(hook, smtp_port))
    data_dir = tmp_path / "data"
    server = ServeProcess(data_dir, playbooks, tmp_path / "config.yaml", tmp_path)
    mail = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    try:
        await asyncio.to_thread(server.start)
        body = {
            "rule": "Terminal shell in container",
            "priority": "Warning",
            "output": "shell",
            "time": 1_790_000_000_000_000_000,
            "output_fields": {"container.id": target.id[:12]},
        }
        async with aiohttp.ClientSession() as session:
            answer = await session.post(f"{server.url}/v1/events/falco", json=body)
            assert answer.status == 202
        incidents = data_dir / "incidents.sqlite3"
        await until(
            lambda: (
                incidents.exists()
                and [i["state"] for i in read_incidents(incidents).values()] == ["contained"]
            ),
            "the incident contained while both channels are down",
        )
        await until(
            lambda: (
                [(state, attempts >= 2) for _, state, attempts in outbox_rows(data_dir)]
                == [("pending", True)] * 2
            ),
            "both messages queued and retried at least twice",
        )
        server.kill()
        await hook.start()
        mail.start()
        await asyncio.to_thread(server.start)
        [received] = await hook.wait_for(1)
        await until(lambda: len(inbox.mails) == 1, "the mail")
        await until(
            lambda: [r[1] for r in outbox_rows(data_dir)] == ["sent", "sent"], "both marked sent"
        )
        await asyncio.sleep(0.5)  # a second copy, if there were one, would arrive by now
        assert len(hook.received) == 1
        assert len(inbox.mails) == 1
        [incident_id] = read_incidents(incidents)
        assert received.json()["message"]["incident_id"] == incident_id
        assert inbox.mails[0]["X-Responder-Incident"] == incident_id
    finally:
        server.stop()
        await hook.stop()
        mail.stop()
    verify = await asyncio.to_thread(audit_verify, data_dir)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    kinds = [
        json.loads(line)["kind"] for line in (data_dir / "audit.jsonl").read_text().splitlines()
    ]
    assert kinds.count("notification.sent") == 2
