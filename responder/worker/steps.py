"""Running one step: safety first, then the action with a timeout and retries of transient faults."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from jinja2.exceptions import SecurityError, TemplateError
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from responder.actions import StepOutcome
from responder.engine import Abandoned, abandoned_calls
from responder.errors import Leftovers, PermanentError, ResponderError, TransientError
from responder.incidents import StepRecord

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from responder.actions import Action, ActionContext
    from responder.engine import ContainerInfo
    from responder.journal import Event
    from responder.playbooks import Step
    from responder.settings import Limits
    from responder.text import Templates

__all__ = ["Gate", "StepPlan", "evidence_dir", "retry_policy", "run_step", "window_start"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gate:
    """Why container steps of this incident must not run, decided once per incident."""

    reason: str | None
    """None: go ahead; else why, in words that do not repeat the state (shown beside it)."""
    state: str | None = None
    """The incident state this implies (protected, held, resolved, failed), if any."""

    @property
    def detail(self) -> str | None:
        """Why a step it stops did not run: the state, then the reason: `protected (label x)`.

        A `failed` gate's steps say `failed: REASON` themselves.
        """
        if self.reason is None or self.state in (None, "failed"):
            return self.reason
        return f"{self.state} ({self.reason})"


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
    gate: Gate


def evidence_dir(incident_dir: Path, steps: Sequence[Step], index: int) -> Path:
    """Where step `index` keeps its files.

    The incident's directory for the first step of each action, `step-N/` in it for a later
    one, so that a second snapshot does not overwrite the first one's files and manifest.
    """
    if any(step.action == steps[index].action for step in steps[:index]):
        return incident_dir / f"step-{index + 1}"
    return incident_dir


def _skipped(plan: StepPlan, reason: str, params: dict[str, Any]) -> StepRecord:
    return StepRecord(
        index=plan.index,
        action=plan.step.action,
        params=params,
        status="skipped",
        detail=f"skipped: {reason}",
        started_at=datetime.now(UTC).isoformat(),
        duration_ms=0.0,
    )


async def _attempts(
    plan: StepPlan,
    ctx: ActionContext,
    params: Any,  # noqa: ANN401 - the action's own model
    limits: Limits,
) -> tuple[StepOutcome, int]:
    timeout = (plan.step.timeout or limits.step_timeout).total_seconds()
    retries = limits.retries if plan.step.retries is None else plan.step.retries
    attempts = 0
    kept: Leftovers | None = None
    retrying = retry_policy(limits, retries)
    async for attempt in retrying:
        with attempt:
            attempts += 1
            try:
                with abandoned_calls() as abandoned:
                    try:
                        async with asyncio.timeout(timeout):
                            outcome = await plan.action.run(ctx, params, plan.container)
                    except TimeoutError:
                        outcome = await _late(abandoned, timeout)
            except ResponderError as exc:
                # What an attempt left behind stays listed when a later one gets less far.
                kept = exc.kept = exc.kept or kept
                raise
            return outcome, attempts
    raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover


async def _late(abandoned: Abandoned, timed_out_after: float) -> StepOutcome:
    """What an attempt that timed out did after all.

    Its Docker call in flight cannot be stopped and may still change the container, so it is
    waited for (up to the engine's own call timeout) before anything else happens: before a
    retry, which then sees what it did, and before the step is recorded. A call that returns
    the step's outcome finished the work late, and that outcome, with its undo, is the step's.
    """
    given_up = f"no answer within {timed_out_after:g} s"
    calls = await abandoned.settle()
    if not calls:
        raise TransientError(given_up)
    call = calls[-1]  # an action awaits its calls one by one: only the last was in flight
    if not call.done():
        raise TransientError(
            f"{given_up}; its Docker call had not ended after the engine's own timeout either,"
            " so the container may still change"
        )
    error = call.exception()
    if error is None:
        result = call.result()
        if isinstance(result, StepOutcome):
            late = f"{result.detail} (the engine answered after the step's {timed_out_after:g} s timeout)"
            return result.model_copy(update={"detail": late})
        raise TransientError(given_up)  # a call part-way through the step: the rest never ran
    if isinstance(error, ResponderError):
        kind = TransientError if isinstance(error, TransientError) else PermanentError
        late_error = kind(f"{given_up}, then: {error}")
        late_error.kept = error.kept
        raise late_error
    raise error


async def run_step(
    plan: StepPlan,
    ctx: ActionContext,
    templates: Templates,
    limits: Limits,
    *,
    resumed: bool = False,
) -> StepRecord:
    """Render, check safety, run with retries; always returns a record, never raises."""
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat()
    try:
        rendered = templates.render_value(plan.step.with_, plan.context)
        params = plan.action.params.model_validate(rendered)
    except (TemplateError, SecurityError, ValidationError) as exc:
        return StepRecord(
            index=plan.index,
            action=plan.step.action,
            params=plan.step.with_,
            status="failed",
            detail="failed: its parameters could not be rendered",
            started_at=started_at,
            duration_ms=0.0,
            error=str(exc),
        )
    shown = params.model_dump(mode="json")
    if plan.action.needs_container and plan.gate.reason:
        if plan.gate.state == "failed":
            return _skipped(plan, plan.gate.reason, shown).model_copy(
                update={
                    "status": "failed",
                    "detail": f"failed: {plan.gate.reason}",
                    "error": plan.gate.reason,
                }
            )
        return _skipped(plan, plan.gate.detail or plan.gate.reason, shown)
    try:
        outcome, attempts = await _attempts(plan, ctx, params, limits)
    except Exception as exc:
        if not isinstance(exc, TransientError | PermanentError):
            log.exception(
                "step %d (%s) of incident %s", plan.index, plan.step.action, ctx.incident_id
            )
        kind = "gave up after retries" if isinstance(exc, TransientError) else "failed"
        kept = exc.kept if isinstance(exc, ResponderError) else None
        return StepRecord(
            index=plan.index,
            action=plan.step.action,
            params=shown,
            status="failed",
            detail=f"{kind}: {exc}" + (f"; {kept.detail}" if kept else ""),
            started_at=started_at,
            duration_ms=(time.perf_counter() - started) * 1000,
            attempts=(limits.retries if plan.step.retries is None else plan.step.retries) + 1
            if isinstance(exc, TransientError)
            else 1,
            error=str(exc),
            transient=isinstance(exc, TransientError),
            artifacts=kept.artifacts if kept else (),
            data=dict(kept.data) if kept else {},
        )
    data = dict(outcome.data)
    if outcome.status == "already" and (resumed or attempts > 1):
        data["resumed"] = True  # an earlier attempt may have made the change: release undoes it
    return StepRecord(
        index=plan.index,
        action=plan.step.action,
        params=shown,
        status=outcome.status,
        detail=outcome.detail,
        started_at=started_at,
        duration_ms=(time.perf_counter() - started) * 1000,
        attempts=attempts,
        undo=outcome.undo,
        artifacts=outcome.artifacts,
        data=data,
    )


def retry_policy(limits: Limits, retries: int | None = None) -> AsyncRetrying:
    """Transient faults only, with exponential backoff capped by the limits; others raise at once."""
    return AsyncRetrying(
        stop=stop_after_attempt((limits.retries if retries is None else retries) + 1),
        wait=wait_exponential(
            multiplier=limits.retry_backoff.total_seconds(),
            max=limits.retry_backoff_max.total_seconds(),
        ),
        retry=retry_if_exception_type(TransientError),
        reraise=True,
    )


def window_start(window: timedelta) -> str:
    """The start of a window ending now, as stored times are written."""
    return (datetime.now(UTC) - window).isoformat()
