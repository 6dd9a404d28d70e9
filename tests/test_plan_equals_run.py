"""What `responder plan` says is what runs: every shipped playbook, against its own test events.

For each case of playbooks/tests/*.test.yaml, the container the case describes is made on the
real engine (its labels; the names and ids the body gives become the real container's), the
event is planned with that live container (`plan_event`, as `responder plan` does), then posted
to the real app and run for real. Each matching playbook's steps, rendered parameters and skip
or fail reasons must equal the incident's step records, step by step, and the incident's reason
the plan's gate.

The run is real, not a dry-run: a dry-run skips the containment limit's claim and never makes
the change, so a step the plan says runs would only be seen to run "would". Run for real, the
snapshot, isolate and pause the plan promised are seen to have been made (done) on the very
container the plan named; the containment is released afterwards.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _incidents import incidents_of, settle
from pydantic import SecretStr

from responder.intake.bodies import body_kind, events_from_body
from responder.planning import load_cases, plan_event
from responder.settings import AuthSettings, TargetRules
from responder.text import Templates
from responder.web.state import ACTIONS, ENGINE, PLAYBOOKS, SETTINGS

if TYPE_CHECKING:
    from _docker import Resources
    from aiohttp.test_utils import TestClient
    from aiohttp.web import Application
    from conftest import ClientFactory
    from pydantic import JsonValue

    from responder.incidents import IncidentRecord
    from responder.journal import Event, Target
    from responder.planning import EventPlan, PlannedStep
    from responder.planning._cases import Case

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "playbooks"
CASES = [(path, case) for path, _, case in load_cases([SHIPPED / "tests"])]
IDS = [f"{path.name}:{line}" for path, line, _ in load_cases([SHIPPED / "tests"])]
ADMIN = "admin-token"
RAN = "ran"
"""What a step that was tried and succeeded (done or already) is compared as."""


def body_of(path: Path, case: Case) -> dict[str, JsonValue]:
    """The case's body as a sender posts it: inline, or from its `event_file`."""
    if case.event is not None:
        return case.event
    assert case.event_file is not None
    loaded: dict[str, JsonValue] = json.loads((path.parent / case.event_file).read_text())
    return loaded


def named_target(body: dict[str, JsonValue]) -> Target | None:
    """The one container the body's events name (a case names at most one), or None."""
    targets = {e.target for e in events_from_body(body, datetime.now(UTC), TargetRules())}
    named = {t for t in targets if t is not None}
    assert len(named) <= 1, f"a case that names several containers: {named}"
    return next(iter(named), None)


def renamed(value: JsonValue, names: dict[str, str]) -> JsonValue:
    """Every string equal to a key of `names` replaced by its value, at any depth."""
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, list):
        return [renamed(item, names) for item in value]
    if isinstance(value, dict):
        return {key: renamed(item, names) for key, item in value.items()}
    return value


def with_live_container(
    body: dict[str, JsonValue], case: Case, resources: Resources
) -> dict[str, JsonValue]:
    """The body naming a real container made as the case describes it (its labels)."""
    target = named_target(body)
    if target is None:
        return body
    made = resources.container(labels=dict(case.container.labels) if case.container else None)
    names = {target.name: made.name} if target.name else {}
    if target.id:
        names[target.id] = made.id[: len(target.id)]
    changed = renamed(body, names)
    assert isinstance(changed, dict)
    return changed


async def plans_of(client: TestClient[Any, Application], events: list[Event]) -> list[EventPlan]:
    """Each event planned as `responder plan` does, with the app's playbooks and live container."""
    app = client.app
    plans = []
    for event in events:
        container = await app[ENGINE].resolve(event.target) if event.target else None
        plans.append(
            plan_event(
                event,
                playbooks=app[PLAYBOOKS],
                actions=app[ACTIONS],
                templates=Templates(),
                container=container,
                container_note="live",
                protection=app[SETTINGS].protection,
            )
        )
    return plans


def planned(step: PlannedStep) -> tuple[int, str, dict[str, Any], str]:
    """A planned step as its record would say it: index, action, parameters, outcome."""
    if step.error is not None:
        outcome = "failed: its parameters could not be rendered"
    elif step.fails is not None:
        outcome = f"failed: {step.fails}"
    elif step.skipped is not None:
        outcome = f"skipped: {step.skipped}"
    else:
        outcome = RAN
    return step.index, step.action, step.params, outcome


def ran(record: IncidentRecord) -> list[tuple[int, str, dict[str, Any], str]]:
    """The incident's steps: index, action, parameters, and `ran` or the detail of why not."""
    return [
        (s.index, s.action, s.params, RAN if s.status in ("done", "already") else s.detail)
        for s in record.steps
    ]


async def incidents_by_event(
    client: TestClient[Any, Application],
) -> dict[tuple[str, str], IncidentRecord]:
    """Every incident with its steps, by (the event that opened it, its playbook)."""
    return {(r.first_event, r.playbook): r for r in await incidents_of(client)}


async def release_all(
    client: TestClient[Any, Application], records: list[IncidentRecord]
) -> list[int]:
    """Release every incident that changed its container; the HTTP statuses."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    return [
        (await client.post(f"/v1/incidents/{r.id}/release", headers=admin)).status
        for r in records
        if r.awaits_release()
    ]


@pytest.mark.parametrize(("path", "case"), CASES, ids=IDS)
async def test_the_plan_of_each_shipped_case_is_what_runs(
    path: Path, case: Case, make_client: ClientFactory, resources: Resources
) -> None:
    """Planned with the live container, then run for real: the same steps, params and reasons."""
    body = with_live_container(body_of(path, case), case, resources)
    client = await make_client(playbooks=SHIPPED, auth=AuthSettings(admin_token=SecretStr(ADMIN)))
    events = events_from_body(body, datetime.now(UTC), client.app[SETTINGS].targets)
    plans = await plans_of(client, events)
    names = [p.playbook.name for plan in plans for p in plan.plans]
    assert list(dict.fromkeys(names)) == [e.playbook for e in case.expect], "the case changed"
    response = await client.post(f"/v1/events/{body_kind(body)}", json=body)
    assert response.status == 202
    ids = [e["id"] for e in (await response.json())["events"]]
    await settle(client)
    incidents = await incidents_by_event(client)
    expected = {
        (event_id, p.playbook.name): p
        for event_id, plan in zip(ids, plans, strict=True)
        for p in plan.plans
    }
    assert set(incidents) == set(expected)
    for key, playbook_plan in expected.items():
        record = incidents[key]
        assert ran(record) == [planned(step) for step in playbook_plan.steps], key
        assert record.reason == playbook_plan.gate.reason, key
    assert set(await release_all(client, list(incidents.values()))) <= {200}
