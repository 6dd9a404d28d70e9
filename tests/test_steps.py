"""Running one step: retries of transient faults only, timeouts, and safety gates."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from _builders import step_plan

from responder.actions import Action, ActionContext, ActionParams, Artifact, StepOutcome
from responder.engine import SdkEngine
from responder.errors import PermanentError, ResponderError, TransientError
from responder.settings import DockerSettings, Limits
from responder.text import Templates
from responder.worker.gates import Gate
from responder.worker.steps import run_step

if TYPE_CHECKING:
    from pathlib import Path

    from responder.engine import ContainerInfo


class Flaky(Action):
    """Fails with the given errors, one per attempt, then succeeds."""

    name: ClassVar[str] = "test:flaky"
    summary: ClassVar[str] = "fails, then works"
    undo: ClassVar[str] = "nothing"
    changes_container: ClassVar[bool] = True
    params: ClassVar[type[ActionParams]] = ActionParams

    def __init__(self, *errors: Exception, sleep: float = 0) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.sleep = sleep

    def describe(self, params: Any, target: str | None) -> str:
        """One line."""
        del params
        return f"flaky on {target}"

    async def run(
        self, ctx: ActionContext, params: Any, container: ContainerInfo | None
    ) -> StepOutcome:
        """Raise the next error, or succeed."""
        del ctx, params, container
        self.calls += 1
        if self.sleep:
            await asyncio.sleep(self.sleep)
        if self.errors:
            raise self.errors.pop(0)
        return StepOutcome(status="done", detail="worked")


FAST = Limits(
    retries=2, retry_backoff=timedelta(milliseconds=1), retry_backoff_max=timedelta(milliseconds=5)
)


@pytest.fixture
def ctx(tmp_path: Path) -> ActionContext:
    """A context whose engine is never used by these actions."""
    return ActionContext(engine=SdkEngine(DockerSettings()), incident_id="I", evidence_dir=tmp_path)


async def test_transient_faults_are_retried_until_success(ctx: ActionContext) -> None:
    """Two daemon faults, then success: done after three attempts."""
    action = Flaky(TransientError("daemon restarting"), TransientError("503"))
    record = await run_step(step_plan(action), ctx, Templates(), FAST)
    assert record.status == "done"
    assert record.attempts == 3


async def test_retries_give_up_with_the_cause_recorded(ctx: ActionContext) -> None:
    """Past the retry budget the step fails and says why."""
    action = Flaky(*(TransientError("daemon unreachable") for _ in range(5)))
    record = await run_step(step_plan(action), ctx, Templates(), FAST)
    assert record.status == "failed"
    assert action.calls == 3
    assert "gave up after retries: daemon unreachable" in record.detail


def keeping(exc: ResponderError, name: str) -> ResponderError:
    """`exc`, carrying a file that the failed attempt leaves behind."""
    exc.kept = StepOutcome(
        status="failed",
        detail=f"kept {name}",
        artifacts=(
            Artifact(
                name=name, kind="logs", sha256="0" * 64, size=1, collected_at="t", collected_by="x"
            ),
        ),
        data={"manifest": "manifest.json", "manifest_sha256": "1" * 64},
    )
    return exc


async def test_a_step_that_fails_lists_what_its_attempts_left(ctx: ActionContext) -> None:
    """The latest attempt that left something is listed, even when a later one left nothing."""
    action = Flaky(
        keeping(TransientError("engine gone mid-export"), "first.txt"),
        keeping(TransientError("engine gone mid-export"), "second.txt"),
        TransientError("engine unreachable"),
    )
    record = await run_step(step_plan(action), ctx, Templates(), FAST)
    assert record.status == "failed"
    assert record.transient
    assert [a.name for a in record.artifacts] == ["second.txt"]
    assert record.data == {"manifest": "manifest.json", "manifest_sha256": "1" * 64}
    assert record.detail == "gave up after retries: engine unreachable; kept second.txt"


async def test_a_permanent_failure_is_not_transient(ctx: ActionContext) -> None:
    """A repeat of the alert does not retry it (the incident store joins it)."""
    record = await run_step(step_plan(Flaky(PermanentError("gone"))), ctx, Templates(), FAST)
    assert (record.status, record.transient, record.artifacts) == ("failed", False, ())


async def test_permanent_faults_are_not_retried(ctx: ActionContext) -> None:
    """A missing container fails at once."""
    action = Flaky(PermanentError("not found: no such container"))
    record = await run_step(step_plan(action), ctx, Templates(), FAST)
    assert record.status == "failed"
    assert action.calls == 1


async def test_a_step_that_hangs_times_out_and_is_retried(ctx: ActionContext) -> None:
    """A timeout counts as transient: each attempt is cut off, then the step fails."""
    action = Flaky(sleep=5)
    record = await run_step(
        step_plan(action, timeout=timedelta(milliseconds=50)), ctx, Templates(), FAST
    )
    assert record.status == "failed"
    assert "no answer within 0.05 s" in record.detail
    assert action.calls == 3


async def test_a_gate_skips_container_steps_without_running_them(ctx: ActionContext) -> None:
    """Protected: the action is never called."""
    action = Flaky()
    record = await run_step(
        step_plan(action, gate=Gate("label responder.protect=true", "protected")),
        ctx,
        Templates(),
        FAST,
    )
    assert record.status == "skipped"
    assert record.detail == "skipped: protected (label responder.protect=true)"
    assert action.calls == 0
