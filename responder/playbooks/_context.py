"""What a playbook template sees: the event, its container and the incident, as plain data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from responder.engine import ContainerInfo
    from responder.journal import Event
    from responder.playbooks._loader import LoadedPlaybook

__all__ = ["template_context"]


# Long on purpose: what a template sees is one literal, so that every name is in one place.
def template_context(
    event: Event,
    container: ContainerInfo | None,
    playbook: LoadedPlaybook | None = None,
    incident_id: str | None = None,
) -> dict[str, Any]:
    """Plain data for templates: strings, numbers, lists and dicts, never live objects."""
    target = event.target
    return {
        "event": {
            "id": event.id,
            "source": event.source,
            "name": event.name,
            "rule": event.name,
            "priority": event.priority.label,
            "status": event.status,
            "time": event.time.isoformat(),
            "hostname": event.hostname or "",
            "tags": list(event.tags),
            "labels": dict(event.labels),
            "annotations": dict(event.annotations),
            "fields": dict(event.fields),
            "output": event.output,
        },
        "target": {"id": target.id or "", "name": target.name or "", "ref": target.ref}
        if target
        else {},
        "container": {
            "id": container.id,
            "name": container.name,
            "image": container.image,
            "labels": dict(container.labels),
            "status": container.status,
        }
        if container
        else {},
        "playbook": {"name": playbook.name, "description": playbook.playbook.description}
        if playbook
        else {},
        "incident": {"id": incident_id} if incident_id else {},
    }
