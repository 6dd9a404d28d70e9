"""docker:isolate: cut a container off its networks, remembering how to put it back."""

from __future__ import annotations

import threading
from functools import partial
from typing import TYPE_CHECKING, Annotated, ClassVar

from pydantic import AfterValidator, Field

from responder.actions._base import Action, ActionParams
from responder.actions._containers import label, live, required
from responder.actions._endpoints import (
    Endpoint,
    Isolation,
    attached,
    disconnect,
    ensure_quarantine,
    reconnect,
)
from responder.actions._results import ReleaseOutcome, StepOutcome
from responder.errors import PermanentError

if TYPE_CHECKING:
    import docker
    from pydantic import JsonValue

    from responder.actions._containers import Live
    from responder.actions._results import ActionContext
    from responder.engine import ContainerInfo

__all__ = ["Isolate", "IsolateParams"]

_RECORD = "isolate.json"


def _network_name(name: str) -> str:
    """A name the Docker API can be given in its URL path.

    The SDK puts it in the path as it is: a `/` would make it another path
    (`q/../../containers/web/json`), and no call can address such a network anyway.
    """
    if "/" in name or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):  # noqa: PLR2004
        raise ValueError(f"network name {name[:100]!r} holds '/' or a control character")
    return name


NetworkName = Annotated[str, Field(min_length=1), AfterValidator(_network_name)]


class IsolateParams(ActionParams):
    """Which networks to leave, and where to go instead."""

    networks: list[NetworkName] | None = Field(
        default=None, min_length=1, description="networks to disconnect; all of them when not given"
    )
    quarantine_network: NetworkName | None = Field(
        default=None,
        description="internal network to attach afterwards, created if missing (no '/' in the name)",
    )


class Isolate(Action):
    """Cut the container off its networks."""

    name: ClassVar[str] = "docker:isolate"
    summary: ClassVar[str] = (
        "disconnect from every network (or the named ones), remembering each endpoint's settings"
    )
    undo: ClassVar[str] = "reconnect each network with its recorded aliases, addresses and links"
    changes_container: ClassVar[bool] = True
    params: ClassVar[type[ActionParams]] = IsolateParams

    def __init__(self) -> None:
        self._quarantine_lock = threading.Lock()

    def describe(self, params: IsolateParams, target: str | None) -> str:
        """Say which networks go, and what replaces them."""
        which = ", ".join(params.networks) if params.networks else "every network"
        then = f", then attach {params.quarantine_network}" if params.quarantine_network else ""
        return f"disconnect {target} from {which}{then}"

    async def run(
        self, ctx: ActionContext, params: IsolateParams, container: ContainerInfo | None
    ) -> StepOutcome:
        """Record each endpoint, disconnect, then attach the quarantine network if asked."""
        container = required(container, self.name)
        if ctx.dry_run:
            return StepOutcome(status="would", detail=self.describe(params, label(container)))
        return await ctx.engine.run(partial(self._isolate, ctx, params, container.id))

    async def release(
        self, ctx: ActionContext, undo: dict[str, JsonValue], container_ref: str
    ) -> ReleaseOutcome:
        """Leave the quarantine network, reconnect each recorded network; report what failed."""
        isolation = Isolation.from_undo(undo)
        if isolation.empty:
            return ReleaseOutcome(status="nothing", detail="isolate changed no network")
        return await ctx.engine.run(partial(_restore, isolation, container_ref))

    def _isolate(
        self, ctx: ActionContext, params: IsolateParams, ref: str, client: docker.DockerClient
    ) -> StepOutcome:
        now = live(client, ref)
        mode = str((now.attrs.get("HostConfig") or {}).get("NetworkMode") or "default")
        if mode == "host" or mode.startswith("container:"):
            raise PermanentError(
                f"network mode {mode}: cannot isolate {now.name}, it has no network of its own"
            )
        if mode == "none":
            return StepOutcome(
                status="already", detail=f"{now.name} has network mode none: no network to leave"
            )
        on = attached(now)
        quarantine = params.quarantine_network
        joining = quarantine if quarantine is not None and quarantine not in on else None
        wanted = params.networks if params.networks is not None else list(on)
        leave = [n for n in wanted if n in on and n != quarantine]
        absent = [n for n in wanted if n not in on]
        isolation = self._record(ctx, now, on, leave, joining)
        if not leave and joining is None:
            undo = None if isolation.empty else isolation.undo()
            return StepOutcome(status="already", detail=_already(now.name, on, absent), undo=undo)
        if joining is not None:  # before any change: a network that would not isolate stops here
            ensure_quarantine(client, joining, self._quarantine_lock)
        isolation.save(ctx.evidence_dir / _RECORD, now.id)
        for network in leave:
            disconnect(client, now.id, network)
        done = [f"disconnected {now.name} from {', '.join(leave)}"] if leave else []
        if joining is not None:
            client.api.connect_container_to_network(now.id, joining)
            done.append(f"attached {joining}" if leave else f"attached {now.name} to {joining}")
        if absent:
            done.append(f"it was not on {', '.join(absent)}")
        return StepOutcome(status="done", detail="; ".join(done), undo=isolation.undo())

    @staticmethod
    def _record(
        ctx: ActionContext,
        now: Live,
        on: dict[str, dict[str, object]],
        leave: list[str],
        joining: str | None,
    ) -> Isolation:
        """This attempt's endpoints, plus what an earlier, interrupted attempt already took away."""
        networks = {name: Endpoint.from_inspect(on[name], now.short_id) for name in leave}
        quarantine = joining
        earlier = Isolation.load(ctx.evidence_dir / _RECORD, now.id)
        if earlier is not None:
            for name, endpoint in earlier.networks.items():
                if name not in on:
                    networks.setdefault(name, endpoint)
            if earlier.quarantine is not None and earlier.quarantine in on:
                quarantine = quarantine or earlier.quarantine
        return Isolation(networks=networks, quarantine=quarantine)


def _already(name: str, on: dict[str, dict[str, object]], absent: list[str]) -> str:
    if absent:
        still = f" (still on {', '.join(on)})" if on else ""
        return f"{name} is not on {', '.join(absent)}: nothing to disconnect{still}"
    if not on:
        return f"{name} was already isolated: it is on no network"
    return f"{name} was already isolated: it is only on {', '.join(on)}"


def _restore(isolation: Isolation, ref: str, client: docker.DockerClient) -> ReleaseOutcome:
    now = live(client, ref)
    on = attached(now)
    detached = isolation.quarantine is not None and isolation.quarantine in on
    if isolation.quarantine is not None and detached:
        disconnect(client, now.id, isolation.quarantine)
    restored: list[str] = []
    already: list[str] = []
    failed: list[str] = []
    for name, endpoint in isolation.networks.items():
        if name in on:
            already.append(name)
            continue
        problem = reconnect(client, now, name, endpoint)
        if problem is None:
            restored.append(name)
        else:
            failed.append(f"{name} ({problem})")
    done = [f"reconnected {now.name} to {', '.join(restored)}"] if restored else []
    if detached:
        done.append(f"detached {now.name} from {isolation.quarantine}")
    if already:
        done.append(f"{now.name} was already on {', '.join(already)}")
    if failed:
        done.append(f"could not restore: {'; '.join(failed)}")
        return ReleaseOutcome(status="failed", detail="; ".join(done))
    if restored or detached:
        return ReleaseOutcome(status="restored", detail="; ".join(done))
    return ReleaseOutcome(status="already", detail="; ".join(done) or f"{now.name} is as it was")
