"""Planning: what each matching playbook would do, step by step, to which container."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2.exceptions import SecurityError, TemplateError
from pydantic import ValidationError

from responder.engine import own_container_id
from responder.playbooks import match_event, template_context
from responder.worker.gates import gate_for
from responder.worker.steps import Gate

if TYPE_CHECKING:
    from responder.actions import ActionRegistry
    from responder.engine import ContainerInfo
    from responder.journal import Event
    from responder.playbooks import LoadedPlaybook, PlaybookSet, Verdict
    from responder.settings import Protection
    from responder.text import Templates

__all__ = ["EventPlan", "PlannedStep", "PlaybookPlan", "plan_event"]


@dataclass(frozen=True)
class PlannedStep:
    """One step as it would run: rendered parameters, a sentence, or why it would not run."""

    index: int
    action: str
    params: dict[str, Any]
    description: str
    skipped: str | None = None
    error: str | None = None
    fails: str | None = None
    """The step would fail, as the run fails it: no container the alert names was found."""

    def to_json(self) -> dict[str, Any]:
        """For `plan --json`."""
        return {
            "index": self.index,
            "action": self.action,
            "with": self.params,
            "would": None if self.skipped or self.error or self.fails else self.description,
            "skipped": self.skipped,
            "fails": self.fails,
            "error": self.error,
        }


@dataclass(frozen=True)
class PlaybookPlan:
    """A matching playbook and its steps."""

    playbook: LoadedPlaybook
    reasons: tuple[str, ...]
    steps: tuple[PlannedStep, ...]
    gate: Gate
    """The safety rule that stops its container steps, as the run decides it (limit aside)."""


@dataclass(frozen=True)
class EventPlan:
    """Everything `plan` says about one event."""

    event: Event
    container: ContainerInfo | None
    container_note: str
    verdicts: tuple[Verdict, ...]
    plans: tuple[PlaybookPlan, ...]


def _plan_steps(
    loaded: LoadedPlaybook,
    event: Event,
    container: ContainerInfo | None,
    *,
    actions: ActionRegistry,
    templates: Templates,
    gate: Gate,
) -> tuple[PlannedStep, ...]:
    context = template_context(event, container, loaded)
    target = container.name if container else (event.target.ref if event.target else None)
    planned = []
    # As the run: after a step that fails, container steps are not run; notify steps still are.
    step_gate = gate
    for index, step in enumerate(loaded.playbook.steps):
        action = actions.get(step.action)
        assert action is not None  # noqa: S101 - the loader checked every action exists
        failed = False
        try:
            rendered = templates.render_value(step.with_, context)
            params = action.params.model_validate(rendered)
        except (TemplateError, SecurityError, ValidationError) as exc:
            planned.append(PlannedStep(index, step.action, step.with_, "", error=str(exc)))
            failed = True
        else:
            # The same words as the run's steps: `failed: REASON`, `skipped: DETAIL`.
            stopped = step_gate.detail if action.needs_container else None
            failed = stopped is not None and step_gate.state == "failed"
            planned.append(
                PlannedStep(
                    index,
                    step.action,
                    params.model_dump(mode="json"),
                    action.describe(params, target),
                    skipped=None if failed else stopped,
                    fails=stopped if failed else None,
                )
            )
        if failed and not step.continue_on_error and step_gate is gate:
            step_gate = Gate(f"not run: step {index + 1} ({step.action}) failed")
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
    unreachable: str | None = None,
) -> EventPlan:
    """Match, then render every step of every matching playbook; nothing is changed.

    The safety rules are the run's own (`gate_for`): what `plan` says is what the run does.
    """
    verdicts = tuple(match_event(event, playbooks, container))
    gate = gate_for(event, container, protection, own_container_id(), unreachable=unreachable)
    plans = tuple(
        PlaybookPlan(
            v.playbook,
            v.reasons,
            _plan_steps(
                v.playbook, event, container, actions=actions, templates=templates, gate=gate
            ),
            gate,
        )
        for v in verdicts
        if v.matched
    )
    return EventPlan(event, container, container_note, verdicts, plans)
