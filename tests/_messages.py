"""Messages as the runner would queue them, for outbox and notifier tests."""

from __future__ import annotations

from typing import Any

from responder.events import new_event_id
from responder.notifiers import Message, MessageStep


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
