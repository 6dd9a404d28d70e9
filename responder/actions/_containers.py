"""What the Docker actions read about a container before they act, inside `engine.run`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import docker.errors

from responder.engine import ID_PREFIX_MIN, is_container_ref, is_full_id, not_found
from responder.errors import PermanentError

if TYPE_CHECKING:
    from responder.engine import ContainerInfo

__all__ = ["Live", "explain", "gone", "label", "live", "must_be_full_id", "required"]


@dataclass(frozen=True)
class Live:
    """A container as the engine describes it right now, not as it was when the incident opened."""

    id: str
    """The full id."""
    name: str
    status: str
    """created, running, paused, restarting, removing, exited or dead."""
    running: bool
    """It has processes: running, paused or restarting."""
    paused: bool
    attrs: dict[str, Any]
    """The whole `inspect` document."""

    @property
    def short_id(self) -> str:
        """The 12-character id Docker shows (and adds as a network alias)."""
        return self.id[:ID_PREFIX_MIN]


def live(client: docker.DockerClient, ref: str) -> Live:
    """Inspect the container with the full id `ref` now; one that is gone is a PermanentError.

    Only a full id: the engine matches it before any name, so no other container can answer.
    The alert's reference was resolved to it once (`DockerEngine.resolve`).
    """
    ref = must_be_full_id(ref)
    try:
        attrs: dict[str, Any] = client.api.inspect_container(ref)
    except docker.errors.NotFound:
        raise PermanentError(gone(ref)) from None
    state = attrs.get("State") or {}
    return Live(
        id=str(attrs.get("Id", ref)),
        name=str(attrs.get("Name", "")).lstrip("/") or ref,
        status=str(state.get("Status", "unknown")),
        running=bool(state.get("Running")),
        paused=bool(state.get("Paused")),
        attrs=attrs,
    )


def must_be_full_id(ref: str) -> str:
    """`ref` if it is a full container id; anything else is a PermanentError, never looked up."""
    if not is_container_ref(ref):
        raise PermanentError(not_found(ref))
    if not is_full_id(ref):
        raise PermanentError(
            f"{ref!r} is not a full container id: containers are acted on only by their full id"
        )
    return ref


def gone(ref: str) -> str:
    """What a step says of a container the engine no longer has."""
    return f"container {ref[:ID_PREFIX_MIN]} no longer exists"


def required(container: ContainerInfo | None, action: str) -> ContainerInfo:
    """The step's container; an action that needs one and got none is a PermanentError."""
    if container is None:
        raise PermanentError(f"{action} needs a container, and this step has none")
    return container


def label(container: ContainerInfo) -> str:
    """How a person knows the container: its name, else its short id."""
    return container.name or container.id


def explain(exc: docker.errors.APIError) -> str:
    """The engine's own words for an error, without the URL around them."""
    return str(exc.explanation or exc)
