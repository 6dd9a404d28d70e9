"""Planning: what each matching playbook would do, step by step, to which container."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2.exceptions import SecurityError, TemplateError
from pydantic import ValidationError

from responder.containers import not_found
from responder.gates import NO_TARGET, RESOLVED, protected
from responder.matching import match_event

if TYPE_CHECKING:
    from responder.actions import Action, ActionRegistry
    from responder.containers import ContainerInfo
    from responder.events import Event
    from responder.matching import Verdict
    from responder.playbooks import LoadedPlaybook, PlaybookSet
    from responder.policy import Protection
    from responder.templates import Templates

__all__ = ["EventPlan", "PlannedStep", "PlaybookPlan", "plan_event", "template_context"]


@dataclass(frozen=True)
class PlannedStep:
    """One step as it would run: rendered parameters, a sentence, or why it would not run."""

    index: int
    action: str
    params: dict[str, Any]
    description: str
    skipped: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """For `plan --json`."""
        return {
            "index": self.index,
            "action": self.action,
            "with": self.params,
            "would": None if self.skipped or self.error else self.description,
            "skipped": self.skipped,
            "error": self.error,
        }


@dataclass(frozen=True)
class PlaybookPlan:
    """A matching playbook and its steps."""

    playbook: LoadedPlaybook
    reasons: tuple[str, ...]
    steps: tuple[PlannedStep, ...]


@dataclass(frozen=True)
class EventPlan:
    """Everything `plan` says about one event."""

    event: Event
    container: ContainerInfo | None
    container_note: str
    verdicts: tuple[Verdict, ...]
    plans: tuple[PlaybookPlan, ...]


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


def _skip_reason(
    event: Event, container: ContainerInfo | None, action: Action, protection: Protection | None
) -> str | None:
    if not action.needs_container:
        return None
    # The same words as the run's skipped steps (`responder.gates`).
    if event.status == "resolved":
        return RESOLVED.detail
    if event.target is None:
        return NO_TARGET.detail
    if container is None:
        return not_found(event.target.ref)
    if protection is not None:
        why = protection.reason(name=container.name, image=container.image, labels=container.labels)
        if why:
            return protected(why).detail
    return None


def _plan_steps(
    loaded: LoadedPlaybook,
    event: Event,
    container: ContainerInfo | None,
    *,
    actions: ActionRegistry,
    templates: Templates,
    protection: Protection | None,
) -> tuple[PlannedStep, ...]:
    context = template_context(event, container, loaded)
    target = container.name if container else (event.target.ref if event.target else None)
    planned = []
    for index, step in enumerate(loaded.playbook.steps):
        action = actions.get(step.action)
        assert action is not None  # noqa: S101 - the loader checked every action exists
        try:
            rendered = templates.render_value(step.with_, context)
            params = action.params.model_validate(rendered)
        except (TemplateError, SecurityError, ValidationError) as exc:
            planned.append(PlannedStep(index, step.action, step.with_, "", error=str(exc)))
            continue
        skipped = _skip_reason(event, container, action, protection)
        description = action.describe(params, target)
        effective = params.model_dump(mode="json")
        planned.append(PlannedStep(index, step.action, effective, description, skipped=skipped))
    return tuple(planned)


def plan_event(
    event: Event,
    *,
    playbooks: PlaybookSet,
    actions: ActionRegistry,
    templates: Templates,
    container: ContainerInfo | None,
    container_note: str,
    protection: Protection | None = None,
) -> EventPlan:
    """Match, then render every step of every matching playbook; nothing is changed."""
    verdicts = tuple(match_event(event, playbooks, container))
    plans = tuple(
        PlaybookPlan(
            v.playbook,
            v.reasons,
            _plan_steps(
                v.playbook,
                event,
                container,
                actions=actions,
                templates=templates,
                protection=protection,
            ),
        )
        for v in verdicts
        if v.matched
    )
    return EventPlan(event, container, container_note, verdicts, plans)
