"""Running one step: its parameters rendered, its decision kept, then its action tried; a record."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from jinja2.exceptions import SecurityError, TemplateError
from pydantic import ValidationError

from responder.errors import PermanentError, ResponderError, TransientError
from responder.incidents import StepRecord
from responder.worker.attempts import attempt
from responder.worker.gates import decide_step

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from responder.actions import Action, ActionContext, ActionParams, StepOutcome
    from responder.engine import ContainerInfo
    from responder.incidents import IncidentRecord
    from responder.journal import Event
    from responder.playbooks import LoadedPlaybook, Step
    from responder.settings import Limits
    from responder.text import Templates
    from responder.worker.gates import Gate, StepDecision

__all__ = [
    "IncidentRun",
    "RenderedParams",
    "StepPlan",
    "evidence_dir",
    "render_params",
    "run_step",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepPlan:
    """Everything one step needs."""

    index: int
    step: Step
    action: Action
    context: dict[str, Any]
    """Template context."""
    container: ContainerInfo | None
    event: Event
    decision: StepDecision
    """Whether it runs, decided with the playbook's other steps (`decide_step`)."""


@dataclass(frozen=True)
class IncidentRun:
    """One incident as its steps run: what every step of it shares, decided once."""

    record: IncidentRecord
    loaded: LoadedPlaybook
    event: Event
    container: ContainerInfo | None
    unreachable: str | None
    """Why the engine could not say which container it is (it did not answer), if so."""
    gate: Gate
    dry_run: bool
    context: dict[str, Any]
    """What the steps' templates see."""
    action_ctx: ActionContext
    """The actions' context; each step gets its own evidence directory and notify sink."""

    @property
    def recorded(self) -> dict[int, StepRecord]:
        """The steps recorded before a restart, by index."""
        return {step.index: step for step in self.record.steps}

    def step_plan(self, index: int, action: Action, done: Sequence[StepRecord]) -> StepPlan:
        """Step `index` after the steps `done`: whether it runs is `decide_step`'s to say."""
        steps = self.loaded.playbook.steps
        earlier = [(steps[record.index], record.status == "failed") for record in done]
        decision = decide_step(self.gate, action, earlier)
        return StepPlan(
            index, steps[index], action, self.context, self.container, self.event, decision
        )


@dataclass(frozen=True)
class RenderedParams:
    """A step's parameters rendered and checked against its action's model, or why not."""

    params: ActionParams | None
    """The checked parameters; None when they could not be rendered or checked."""
    shown: dict[str, Any]
    """What the step record and the plan show: the checked values, else the playbook's own."""
    error: str | None = None


def render_params(
    step: Step, action: Action, context: Mapping[str, Any], templates: Templates
) -> RenderedParams:
    """Render the step's `with:` templates, then check them: the one rendering plan and run share."""
    try:
        rendered = templates.render_value(step.with_, context)
        params = action.params.model_validate(rendered)
    except (TemplateError, SecurityError, ValidationError) as exc:
        return RenderedParams(None, step.with_, str(exc))
    return RenderedParams(params, params.model_dump(mode="json"))


def evidence_dir(incident_dir: Path, steps: Sequence[Step], index: int) -> Path:
    """Where step `index` keeps its files.

    The incident's directory for the first step of each action, `step-N/` in it for a later
    one, so that a second snapshot does not overwrite the first one's files and manifest.
    """
    if any(step.action == steps[index].action for step in steps[:index]):
        return incident_dir / f"step-{index + 1}"
    return incident_dir


async def run_step(
    plan: StepPlan,
    ctx: ActionContext,
    templates: Templates,
    limits: Limits,
    *,
    resumed: bool = False,
) -> StepRecord:
    """Render, check safety, run with retries; always returns a record, never raises."""
    started_at = datetime.now(UTC).isoformat()
    rendered = render_params(plan.step, plan.action, plan.context, templates)
    if rendered.params is None or not plan.decision.runs:
        return _not_run(plan, rendered, started_at)
    started = time.perf_counter()
    try:
        params = rendered.params
        outcome, attempts = await attempt(
            lambda: plan.action.run(ctx, params, plan.container), plan.step, limits
        )
    except Exception as exc:
        if not isinstance(exc, TransientError | PermanentError):
            log.exception(
                "step %d (%s) of incident %s", plan.index, plan.step.action, ctx.incident_id
            )
        took = _since(started)
        return _failed(
            plan, exc, shown=rendered.shown, started_at=started_at, duration_ms=took, limits=limits
        )
    took = _since(started)
    resumed = resumed or attempts > 1
    return _ran(
        plan,
        outcome,
        attempts,
        shown=rendered.shown,
        started_at=started_at,
        duration_ms=took,
        resumed=resumed,
    )


def _ran(
    plan: StepPlan,
    outcome: StepOutcome,
    attempts: int,
    *,
    shown: dict[str, Any],
    started_at: str,
    duration_ms: float,
    resumed: bool,
) -> StepRecord:
    """The record of a step whose action answered (done, already, would) after `attempts`."""
    data = dict(outcome.data)
    if outcome.status == "already" and resumed:
        # An earlier attempt, or the run a crash cut short, may have made the change: release
        # undoes it.
        data["resumed"] = True
    return StepRecord(
        index=plan.index,
        action=plan.step.action,
        params=shown,
        status=outcome.status,
        detail=outcome.detail,
        started_at=started_at,
        duration_ms=duration_ms,
        attempts=attempts,
        undo=outcome.undo,
        artifacts=outcome.artifacts,
        data=data,
    )


def _since(started: float) -> float:
    """Milliseconds since `started` (a `time.perf_counter()`)."""
    return (time.perf_counter() - started) * 1000


def _not_run(plan: StepPlan, rendered: RenderedParams, started_at: str) -> StepRecord:
    """The record of a step that is not tried: its parameters did not render, or it is stopped."""
    status: Literal["failed", "skipped"] = "failed"
    if rendered.params is None:
        detail, error = "failed: its parameters could not be rendered", rendered.error
    else:
        decision = plan.decision
        status = "failed" if decision.status == "failed" else "skipped"
        detail, error = decision.detail, decision.reason if status == "failed" else None
    return StepRecord(
        index=plan.index,
        action=plan.step.action,
        params=rendered.shown,
        status=status,
        detail=detail,
        started_at=started_at,
        duration_ms=0.0,
        error=error,
    )


def _failed(
    plan: StepPlan,
    exc: Exception,
    *,
    shown: dict[str, Any],
    started_at: str,
    duration_ms: float,
    limits: Limits,
) -> StepRecord:
    """The record of a step whose action raised: given up after retries, or failed for good."""
    transient = isinstance(exc, TransientError)
    kept = exc.kept if isinstance(exc, ResponderError) else None
    retries = limits.retries if plan.step.retries is None else plan.step.retries
    kind = "gave up after retries" if transient else "failed"
    return StepRecord(
        index=plan.index,
        action=plan.step.action,
        params=shown,
        status="failed",
        detail=f"{kind}: {exc}" + (f"; {kept.detail}" if kept else ""),
        started_at=started_at,
        duration_ms=duration_ms,
        attempts=retries + 1 if transient else 1,
        error=str(exc),
        transient=transient,
        artifacts=kept.artifacts if kept else (),
        data=dict(kept.data) if kept else {},
    )
