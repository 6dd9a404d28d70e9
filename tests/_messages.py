"""Messages as the runner would queue them, and incidents whose alert text is in one field.

The first serve the outbox and notifier tests; the second the tests that keep alert text inert.
"""

from __future__ import annotations

from typing import Any

from _builders import make_event

from responder.engine import ContainerInfo
from responder.incidents import IncidentRecord, StepRecord
from responder.journal import Priority, Target, new_event_id
from responder.notifications.channels import Message, MessageStep
from responder.notifications.messages import MessageFacts
from responder.playbooks import template_context

INCIDENT_ID = "01JQ8ZK3V5T7W9X1Y2Z3A4B5C6"
REPORT = f"https://responder.example.com/v1/incidents/{INCIDENT_ID}/report?format=html"
"""The report's URL as messages give it with `server.public_url` set."""
RELEASE = f"responder release --data-dir /var/lib/responder.io {INCIDENT_ID}"


def message(incident_id: str | None = None, **changes: Any) -> Message:
    """A contained incident's message; keyword arguments change fields."""
    fields: dict[str, Any] = {
        "kind": "incident",
        "incident_id": incident_id or new_event_id(),
        "title": "[CONTAINED] Critical: Terminal shell in container: web-1 on host-a",
        "text": "Critical: Terminal shell in container\nDone:\n  1. docker:pause: paused\n",
        "priority": "Critical",
        "state": "contained",
        "dry_run": False,
        "playbook": "contain-shell",
        "event_source": "falco",
        "event_name": "Terminal shell in container",
        "event_time": "2026-11-24T03:12:45.123456+00:00",
        "host": "host-a",
        "container": "web-1",
        "container_id": "0123456789ab",
        "image": "registry.local/web:1.4",
        "event_count": 3,
        "steps": (MessageStep(action="docker:pause", status="done", detail="paused"),),
        "report": "/var/lib/responder/reports/x/report.md",
        "release_command": "responder release X",
        "created_at": "2026-11-24T03:12:46+00:00",
    }
    return Message.model_validate(fields | changes)


def hostile_facts(field: str, value: str, **changes: Any) -> MessageFacts:
    """A contained incident whose `field` holds `value`; every other field is harmless."""
    event_values = {"event.name": "name", "event.output": "output", "event.hostname": "hostname"}
    event = make_event(
        priority=Priority.CRITICAL,
        target=Target(name="web-1"),
        **({event_values[field]: value} if field in event_values else {}),
    )
    container = ContainerInfo(
        id="0123456789ab" * 2,
        name=value if field == "container.name" else "web-1",
        image=value if field == "container.image" else "web:1.4",
    )
    step = StepRecord(
        index=0,
        action="docker:pause",
        status="failed" if field == "step error" else "done",
        detail=value if field == "step detail" else "paused web-1",
        error=value if field == "step error" else None,
    )
    record = IncidentRecord(
        id=INCIDENT_ID,
        playbook="contain-shell",
        playbook_digest="0" * 64,
        playbook_file="playbooks/shell.yaml:1",
        target="web-1",
        container_id=container.id,
        container_name=value if field == "recorded container" else "web-1",
        image="web:1.4",
        state="contained",
        reason=None,
        dry_run=False,
        event_source="falco",
        event_name=event.name,
        priority="Critical",
        first_event=event.id,
        event_count=1,
        first_seen=event.time.isoformat(),
        last_seen=event.time.isoformat(),
        opened_at=event.time.isoformat(),
        finished_at=None,
        released_at=None,
    )
    live = None if field == "recorded container" else container
    values: dict[str, Any] = {
        "record": record,
        "context": template_context(event, live, None, INCIDENT_ID),
        "steps": [step],
        "state": "contained",
        "dry_run": False,
        "report": REPORT,
        "release_command": RELEASE,
        "note": value if field == "note" else None,
    }
    return MessageFacts(**(values | changes))
