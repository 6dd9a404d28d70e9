"""A step that times out while its Docker call is in flight: what that call did is recorded.

A thread cannot be cancelled, so the call still reaches the engine after the step's timeout.
The engine here is the real one behind tests/_faults.DockerProxy, which holds one request
back (a slow engine) and then forwards it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from _builders import step_plan
from _faults import DockerProxy

from responder.actions import Action, ActionContext, ActionParams, StepOutcome
from responder.actions.lifecycle import Pause
from responder.engine import SdkEngine
from responder.settings import DockerSettings, Limits
from responder.text import Templates
from responder.worker.steps import run_step

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    import docker
    from _docker import Resources

    from responder.engine import ContainerInfo
    from responder.incidents import StepRecord

pytestmark = pytest.mark.docker

STEP_TIMEOUT = timedelta(milliseconds=300)
HELD_S = 1.5  # how long the proxy holds the pause back: well past the step's timeout
NO_RETRIES = Limits(retries=0)
ONE_RETRY = Limits(
    retries=1, retry_backoff=timedelta(milliseconds=1), retry_backoff_max=timedelta(milliseconds=1)
)


class Sleeper(Action):
    """One engine call that sleeps in its thread for `seconds`."""

    name: ClassVar[str] = "test:sleeper"
    summary: ClassVar[str] = "an engine call that takes its time"
    undo: ClassVar[str] = "nothing"
    changes_container: ClassVar[bool] = True
    needs_container: ClassVar[bool] = False
    params: ClassVar[type[ActionParams]] = ActionParams

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ended = asyncio.Event()

    def describe(self, params: Any, target: str | None) -> str:
        """One line."""
        del params
        return f"sleep on {target}"

    async def run(
        self, ctx: ActionContext, params: Any, container: ContainerInfo | None
    ) -> StepOutcome:
        """Sleep in the engine's thread, then say done."""
        del params, container
        loop = asyncio.get_running_loop()

        def sleep(_client: docker.DockerClient) -> StepOutcome:
            time.sleep(self.seconds)
            loop.call_soon_threadsafe(self.ended.set)
            return StepOutcome(status="done", detail="slept")

        return await ctx.engine.run(sleep)


async def run_pause(ctx: ActionContext, container: ContainerInfo, limits: Limits) -> StepRecord:
    """Run a pause step on `container`, with the short timeout."""
    plan = step_plan(Pause(), container=container, timeout=STEP_TIMEOUT)
    return await run_step(plan, ctx, Templates(), limits)


@pytest.fixture
async def proxy(tmp_path: Path) -> AsyncIterator[DockerProxy]:
    """The real engine behind a proxy that can hold a request back."""
    async with DockerProxy(tmp_path / "docker.sock") as proxy:
        yield proxy


@pytest.fixture
async def slow_ctx(proxy: DockerProxy, tmp_path: Path) -> AsyncIterator[ActionContext]:
    """An action context whose engine goes through the proxy."""
    engine = SdkEngine(DockerSettings(url=proxy.url))
    yield ActionContext(engine=engine, incident_id="I", evidence_dir=tmp_path)
    await engine.close()


async def test_a_pause_the_engine_makes_after_the_timeout_is_recorded_with_its_undo(
    slow_ctx: ActionContext, proxy: DockerProxy, resources: Resources
) -> None:
    """Regression: recorded as failed, no undo, and the container paused a moment later.

    The step said "no answer within 0.3 s": paused with no record and nothing for release.
    """
    container = resources.container()
    proxy.delay_on(b"/pause ", HELD_S)
    record = await run_pause(slow_ctx, container, NO_RETRIES)
    assert resources.inspect(container.id)["State"]["Paused"]
    assert (record.status, record.undo, record.attempts) == ("done", {"unpause": True}, 1)
    assert record.detail == (
        f"paused {container.name} (the engine answered after the step's 0.3 s timeout)"
    )
    released = await Pause().release(slow_ctx, {"unpause": True}, container.id)
    assert released.status == "restored"
    assert not resources.inspect(container.id)["State"]["Paused"]


async def test_a_retry_waits_for_the_late_call_instead_of_racing_it(
    slow_ctx: ActionContext, proxy: DockerProxy, resources: Resources
) -> None:
    """With a retry left, the late pause is the step's: no second attempt, no 409 from it."""
    container = resources.container()
    proxy.delay_on(b"/pause ", HELD_S)
    record = await run_pause(slow_ctx, container, ONE_RETRY)
    assert (record.status, record.undo, record.attempts) == ("done", {"unpause": True}, 1)
    assert resources.inspect(container.id)["State"]["Paused"]


async def test_a_late_call_that_fails_fails_the_step_with_its_own_error(
    slow_ctx: ActionContext, proxy: DockerProxy, resources: Resources
) -> None:
    """The container went away while the engine was slow: the step says so, not just "timeout"."""
    container = resources.container()
    resources.remove_container(container.id)
    proxy.delay_on(b"/pause ", HELD_S)
    record = await run_pause(slow_ctx, container, ONE_RETRY)
    assert record.status == "failed"
    assert not record.transient
    assert record.error == (
        f"no answer within 0.3 s, then: container {container.id[:12]} no longer exists"
    )


async def test_a_call_still_running_after_the_engine_timeout_is_said_to_be_unsettled(
    tmp_path: Path,
) -> None:
    """Waiting for a late call is bounded by the engine's own call timeout.

    Past it the step fails, saying the container may still change.
    """
    engine = SdkEngine(DockerSettings(timeout=0.5))
    ctx = ActionContext(engine=engine, incident_id="I", evidence_dir=tmp_path)
    action = Sleeper(3.0)
    try:
        record = await run_step(
            step_plan(action, timeout=STEP_TIMEOUT), ctx, Templates(), NO_RETRIES
        )
        assert record.status == "failed"
        assert record.transient
        assert record.error == (
            "no answer within 0.3 s; its Docker call had not ended after the engine's own"
            " timeout either, so the container may still change"
        )
        assert not action.ended.is_set()
        async with asyncio.timeout(10):
            await action.ended.wait()
    finally:
        await engine.close()
