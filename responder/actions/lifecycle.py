"""Freezing and ending a container's processes: docker:pause, docker:stop, docker:kill."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, ClassVar

import docker.errors
from pydantic import Field, field_validator

from responder.actions._base import Action, ActionParams
from responder.actions._containers import (
    Live,
    gone,
    label,
    live,
    must_be_full_id,
    required,
)
from responder.actions._results import ReleaseOutcome, StepOutcome
from responder.errors import PermanentError

if TYPE_CHECKING:
    from pydantic import JsonValue

    from responder.actions._results import ActionContext
    from responder.engine import ContainerInfo

__all__ = ["Kill", "KillParams", "NoParams", "Pause", "Stop", "StopParams"]


class NoParams(ActionParams):
    """This action takes no parameters."""


class Pause(Action):
    """Freeze every process in the container."""

    name: ClassVar[str] = "docker:pause"
    summary: ClassVar[str] = "freeze all processes (cgroup freezer); memory stays for forensics"
    undo: ClassVar[str] = "unpause"
    changes_container: ClassVar[bool] = True
    params: ClassVar[type[ActionParams]] = NoParams

    def describe(self, params: NoParams, target: str | None) -> str:
        """One line."""
        del params
        return f"pause {target}"

    async def run(
        self, ctx: ActionContext, params: NoParams, container: ContainerInfo | None
    ) -> StepOutcome:
        """Pause it; a paused container is "already", one without processes has nothing to pause."""
        container = required(container, self.name)
        if ctx.dry_run:
            return StepOutcome(status="would", detail=self.describe(params, label(container)))

        def pause(client: docker.DockerClient) -> StepOutcome:
            # Pause first, read the container only when the engine refuses: one call on the
            # path that matters. The engine refuses a paused or stopped container (a 409, or
            # a 500 from older engines); the container as it is then says which.
            target = must_be_full_id(container.id)
            try:
                client.api.pause(target)
            except docker.errors.NotFound:
                raise PermanentError(gone(target)) from None
            except docker.errors.APIError as exc:
                return _not_paused(live(client, target), exc)
            return StepOutcome(
                status="done", detail=f"paused {label(container)}", undo={"unpause": True}
            )

        return await ctx.engine.run(pause)

    async def release(
        self, ctx: ActionContext, undo: dict[str, JsonValue], container_ref: str
    ) -> ReleaseOutcome:
        """Unpause it, unless it is no longer paused."""
        if undo.get("unpause") is not True:
            return await super().release(ctx, undo, container_ref)

        def unpause(client: docker.DockerClient) -> ReleaseOutcome:
            now = live(client, container_ref)
            if now.paused:
                try:
                    client.api.unpause(now.id)
                except docker.errors.APIError:
                    # The engine reports a pause or an unpause a moment after it made it: a
                    # container it just showed paused can be refused as "not paused".
                    now = live(client, container_ref)
                    if now.paused:
                        raise
                else:
                    return ReleaseOutcome(status="restored", detail=f"unpaused {now.name}")
            return ReleaseOutcome(
                status="already", detail=f"{now.name} is not paused ({now.status})"
            )

        return await ctx.engine.run(unpause)


class StopParams(ActionParams):
    """Grace before the engine kills."""

    timeout: int = Field(
        default=10, ge=0, le=3600, description="seconds between SIGTERM and SIGKILL"
    )


def _not_paused(now: Live, refused: docker.errors.APIError) -> StepOutcome:
    """Why the engine would not pause it: already paused, or no process to pause."""
    if now.paused:
        # The undo is kept so that a step resumed after a crash (it paused, then the process
        # died before recording it) can still be released; release undoes an "already" only
        # for resumed steps.
        return StepOutcome(
            status="already", detail=f"{now.name} was already paused", undo={"unpause": True}
        )
    if not now.running:
        return StepOutcome(
            status="already",
            detail=f"{now.name} is not running ({now.status}): nothing to pause",
        )
    raise refused


class Stop(Action):
    """Stop the container."""

    name: ClassVar[str] = "docker:stop"
    summary: ClassVar[str] = "stop: SIGTERM, then SIGKILL after the timeout"
    undo: ClassVar[str] = "start the container again"
    changes_container: ClassVar[bool] = True
    params: ClassVar[type[ActionParams]] = StopParams

    def describe(self, params: StopParams, target: str | None) -> str:
        """One line."""
        return f"stop {target} (SIGKILL after {params.timeout}s)"

    async def run(
        self, ctx: ActionContext, params: StopParams, container: ContainerInfo | None
    ) -> StepOutcome:
        """Stop it; release starts it again only if this step is what stopped it."""
        container = required(container, self.name)
        if ctx.dry_run:
            return StepOutcome(status="would", detail=self.describe(params, label(container)))

        def stop(client: docker.DockerClient) -> StepOutcome:
            now = live(client, container.id)
            if not now.running:
                return StepOutcome(  # undo kept for resumed steps, as in Pause
                    status="already",
                    detail=f"{now.name} was already stopped ({now.status})",
                    undo={"start": True},
                )
            client.api.stop(now.id, timeout=params.timeout)
            was = " (it was paused)" if now.paused else ""
            return StepOutcome(
                status="done", detail=f"stopped {now.name}{was}", undo={"start": True}
            )

        return await ctx.engine.run(stop)

    async def release(
        self, ctx: ActionContext, undo: dict[str, JsonValue], container_ref: str
    ) -> ReleaseOutcome:
        """Start it, unless it runs already."""
        if undo.get("start") is not True:
            return await super().release(ctx, undo, container_ref)

        def start(client: docker.DockerClient) -> ReleaseOutcome:
            now = live(client, container_ref)
            if now.running:
                return ReleaseOutcome(
                    status="already", detail=f"{now.name} is already running ({now.status})"
                )
            client.api.start(now.id)
            return ReleaseOutcome(status="restored", detail=f"started {now.name}")

        return await ctx.engine.run(start)


class KillParams(ActionParams):
    """Which signal to send."""

    signal: str = Field(default="SIGKILL", description="signal name, e.g. SIGKILL or SIGTERM")

    @field_validator("signal")
    @classmethod
    def _known_signal(cls, value: str) -> str:
        name = value.upper()
        name = name if name.startswith("SIG") else f"SIG{name}"
        if name not in signal.Signals.__members__:
            raise ValueError(f"unknown signal {value!r}")
        return name


class Kill(Action):
    """Send a signal to the container's main process."""

    name: ClassVar[str] = "docker:kill"
    summary: ClassVar[str] = "send a signal (SIGKILL by default) to the main process"
    undo: ClassVar[str] = "nothing: a killed process cannot be revived; start it anew by hand"
    changes_container: ClassVar[bool] = True
    params: ClassVar[type[ActionParams]] = KillParams

    def describe(self, params: KillParams, target: str | None) -> str:
        """One line."""
        return f"send {params.signal} to {target}"

    async def run(
        self, ctx: ActionContext, params: KillParams, container: ContainerInfo | None
    ) -> StepOutcome:
        """Signal it; a container with no process left is "already"."""
        container = required(container, self.name)
        if ctx.dry_run:
            return StepOutcome(status="would", detail=self.describe(params, label(container)))

        def kill(client: docker.DockerClient) -> StepOutcome:
            now = live(client, container.id)
            if not now.running:
                return StepOutcome(
                    status="already",
                    detail=f"{now.name} is not running ({now.status}): no process to signal",
                )
            client.api.kill(now.id, signal=params.signal)
            return StepOutcome(status="done", detail=f"sent {params.signal} to {now.name}")

        return await ctx.engine.run(kill)
