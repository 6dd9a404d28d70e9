"""Why an incident did not contain is said once: no state is repeated in its reason.

Regression: `responder incidents ID` printed `protected (protected (label ...))`: the gate's
reason already began with its state, and the view put the state in front again. The same held
for `resolved (resolved alert: ...)` and `held (HELD by ...)`. Every gate is made here for real,
on the engine, and every place that shows a reason beside its state is read.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import TYPE_CHECKING, Any

import pytest

from responder.cli import main
from responder.settings import Limits, Protection
from responder.web.state import INCIDENTS, SETTINGS, WORKER

if TYPE_CHECKING:
    from pathlib import Path

    from _docker import Resources
    from aiohttp.test_utils import TestClient
    from aiohttp.web import Application
    from conftest import ClientFactory

    from responder.incidents import IncidentRecord

pytestmark = pytest.mark.docker

PLAYBOOKS = {
    "falco.yaml": """\
name: pause-shell
match:
  rules: [Terminal shell in container]
steps:
  - action: docker:pause
  - action: notify
    with: {channels: [oncall]}
""",
    "alertmanager.yaml": """\
name: pause-misbehaving
match:
  source: alertmanager
  alertnames: [ContainerMisbehaving]
steps:
  - action: docker:pause
  - action: notify
    with: {channels: [oncall]}
""",
}
# A word, then only spaces, colons or brackets, then the same word: `protected (protected`.
DOUBLED = re.compile(r"\b([a-z]+)\b[\s:(]+\1\b", re.IGNORECASE)


def falco(ref: dict[str, str], n: int) -> dict[str, Any]:
    """A Falco body about a shell, naming the container by `ref` (output_fields)."""
    return {
        "rule": "Terminal shell in container",
        "priority": "Notice",
        "output": f"shell #{n}",
        "time": 1_790_000_000_000_000_000 + n,
        "output_fields": ref,
    }


def resolved_alert(container: str) -> dict[str, Any]:
    """An Alertmanager group with one resolved alert about `container`."""
    labels = {"alertname": "ContainerMisbehaving", "container": container, "severity": "critical"}
    return {
        "version": "4",
        "status": "resolved",
        "receiver": "responder",
        "groupLabels": {"alertname": "ContainerMisbehaving"},
        "commonLabels": labels,
        "alerts": [
            {
                "status": "resolved",
                "labels": labels,
                "annotations": {"summary": "back to normal"},
                "startsAt": "2025-02-03T14:05:09Z",
                "endsAt": "2025-02-03T14:15:09Z",
            }
        ],
    }


async def post(client: TestClient[Any, Application], path: str, body: dict[str, Any]) -> None:
    """POST one body and wait until the worker has finished with it."""
    assert (await client.post(path, json=body)).status == 202
    async with asyncio.timeout(60):
        await client.app[WORKER].idle()


@pytest.fixture
async def incidents(
    make_client: ClientFactory, resources: Resources, tmp_path: Path
) -> dict[str, IncidentRecord]:
    """One incident behind every gate, by what it was meant to show."""
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    for name, text in PLAYBOOKS.items():
        (playbooks / name).write_text(text)
    contained, held, resolved = (resources.info(resources.container().id) for _ in range(3))
    by_label = resources.info(resources.container(labels={"responder.protect": "true"}).id)
    by_name = resources.info(resources.container().id)
    client = await make_client(
        playbooks=playbooks,
        limits=Limits(max_containments=1, retries=0),
        protection=Protection(names=(by_name.name,)),
    )
    cases = {
        "contained": falco({"container.id": contained.id[:12]}, 1),
        "held": falco({"container.id": held.id[:12]}, 2),
        "label": falco({"container.id": by_label.id[:12]}, 3),
        "name": falco({"container.name": by_name.name}, 4),
        "missing": falco({"container.name": f"ghost-{secrets.token_hex(4)}"}, 5),
        "host": falco({"container.id": "host"}, 6),
    }
    made: dict[str, IncidentRecord] = {}
    for case, body in cases.items():
        await post(client, "/v1/events/falco", body)
        made[case] = await newest(client)
    await post(client, "/v1/events/alertmanager", resolved_alert(resolved.name))
    made["resolved"] = await newest(client)
    made["data_dir"] = client.app[SETTINGS].data_dir  # type: ignore[assignment]
    return made


async def newest(client: TestClient[Any, Application]) -> IncidentRecord:
    """The incident opened last, with its steps."""
    store = client.app[INCIDENTS]
    [row] = await store.run(lambda s: s.list(1))
    record = await store.run(lambda s: s.get(row.id))
    assert record is not None
    return record


EXPECTED = {
    "contained": ("contained", None),
    "held": ("held", "containment limit reached, 1 per window: notified, not contained"),
    "label": ("protected", "label responder.protect=true"),
    "name": ("protected", "name matches {name}"),
    "missing": ("failed", "container 'ghost-"),
    "host": ("notified", "no container to act on: a host event, or none named"),
    "resolved": ("resolved", "the alert is no longer firing"),
}


async def test_every_gate_gives_its_state_and_a_reason_that_does_not_repeat_it(
    incidents: dict[str, Any],
) -> None:
    """Held, protected (label, name), missing, host, resolved: each reason says why, once."""
    for case, (state, reason) in EXPECTED.items():
        record = incidents[case]
        assert record.state == state, (case, record)
        if reason is None:
            assert record.reason is None, case
            continue
        assert record.reason is not None, case
        assert record.reason.startswith(reason.split("{")[0]), (case, record.reason)
        assert not record.reason.lower().startswith(state), (case, record.reason)


async def test_incidents_id_never_doubles_a_state_or_a_skip_reason(
    incidents: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """The header `incident ID: STATE (REASON)` and every step line say each word once."""
    data_dir = str(incidents["data_dir"])
    for case in EXPECTED:
        record = incidents[case]
        status = await asyncio.to_thread(main, ["incidents", record.id, "--data-dir", data_dir])
        assert status == 0
        lines = capsys.readouterr().out.splitlines()
        header = f"incident {record.id}: {record.state}"
        assert lines[0] == (f"{header} ({record.reason})" if record.reason else header)
        for line in lines:
            assert not DOUBLED.search(line), (case, line)


async def test_skipped_steps_say_the_state_then_why(incidents: dict[str, Any]) -> None:
    """A step a gate stops says `skipped: protected (label ...)`, never the state twice."""
    details = {
        case: [step.detail for step in incidents[case].steps if step.action == "docker:pause"]
        for case in ("held", "label", "host", "resolved")
    }
    assert details == {
        "held": [f"skipped: held ({EXPECTED['held'][1]})"],
        "label": ["skipped: protected (label responder.protect=true)"],
        "host": [f"skipped: {EXPECTED['host'][1]}"],
        "resolved": ["skipped: resolved (the alert is no longer firing)"],
    }
