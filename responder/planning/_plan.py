"""Planning: what each matching playbook would do, step by step, to which container."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from responder.engine import own_container_id
from responder.playbooks import match_event, template_context
from responder.worker.gates import decide_step, gate_for
from responder.worker.steps import render_params

if TYPE_CHECKING:
    from responder.actions import ActionRegistry
    from responder.engine import ContainerInfo
    from responder.journal import Event
    from responder.playbooks import LoadedPlaybook, PlaybookSet, Verdict
    from responder.settings import Protection
    from responder.text import Templates
    from responder.worker.gates import Gate

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

    @property
    def failed(self) -> bool:
        """It would fail without being tried: its parameters, or no container to act on."""
        return self.error is not None or self.fails is not None


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
    """Every step as the run would take it: rendered by `render_params`, stopped by `decide_step`."""
    context = template_context(event, container, loaded)
    target = container.name if container else (event.target.ref if event.target else None)
    steps = loaded.playbook.steps
    planned: list[PlannedStep] = []
    for index, step in enumerate(steps):
        action = actions.get(step.action)
        assert action is not None  # noqa: S101 - the loader checked every action exists
        rendered = render_params(step, action, context, templates)
        if rendered.params is None:
            planned.append(
                PlannedStep(index, step.action, rendered.shown, "", error=rendered.error)
            )
            continue
        decision = decide_step(gate, action, [(steps[p.index], p.failed) for p in planned])
        planned.append(
            PlannedStep(
                index,
                step.action,
                rendered.shown,
                action.describe(rendered.params, target),
                skipped=decision.reason if decision.status == "skipped" else None,
                fails=decision.reason if decision.status == "failed" else None,
            )
        )
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
