"""Trying an action: the step's timeout, retries of transient faults, calls that answer late."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from responder.actions import StepOutcome
from responder.engine import Abandoned, abandoned_calls
from responder.errors import Leftovers, PermanentError, ResponderError, TransientError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from responder.playbooks import Step
    from responder.settings import Limits

__all__ = ["attempt", "retry_policy"]


async def attempt(
    run: Callable[[], Awaitable[StepOutcome]], step: Step, limits: Limits
) -> tuple[StepOutcome, int]:
    """`run` the action with the step's timeout, retrying transient faults: (outcome, attempts).

    What an attempt left behind (a snapshot's files so far) stays on the error it raises, even
    when a later attempt gets less far.
    """
    timeout = (step.timeout or limits.step_timeout).total_seconds()
    retries = limits.retries if step.retries is None else step.retries
    attempts = 0
    kept: Leftovers | None = None
    retrying = retry_policy(limits, retries)
    async for trying in retrying:
        with trying:
            attempts += 1
            try:
                with abandoned_calls() as abandoned:
                    try:
                        async with asyncio.timeout(timeout):
                            outcome = await run()
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
