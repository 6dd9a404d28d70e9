"""The live container as the engine describes it, and which container an alert's reference names."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

    from responder.journal import Target

__all__ = [
    "ID_PREFIX_MIN",
    "ContainerInfo",
    "RefKind",
    "answers_to",
    "is_container_ref",
    "is_full_id",
    "is_id_prefix",
    "not_found",
    "own_container_id",
    "reference",
]

RefKind = Literal["id", "name"]
"""Which field of the alert a reference came from: it decides how the reference may match."""

ID_PREFIX_MIN = 12
"""The shortest id prefix an alert may name a container by: what `docker ps` shows."""


@dataclass(frozen=True)
class ContainerInfo:
    """Identity, image, labels and state of one container."""

    id: str
    """The full 64-hex id: every call after the alert's reference was resolved uses it."""
    name: str
    image: str
    labels: Mapping[str, str] = field(default_factory=dict)
    status: str = "running"

    @property
    def running(self) -> bool:
        """Running (paused counts as not running)."""
        return self.status == "running"

    @property
    def short_id(self) -> str:
        """The 12-character id Docker shows."""
        return self.id[:ID_PREFIX_MIN]

    @classmethod
    def from_inspect(cls, attrs: Mapping[str, Any]) -> ContainerInfo:
        """From the engine's `inspect` document."""
        config = attrs.get("Config") or {}
        state = attrs.get("State") or {}
        return cls(
            id=str(attrs.get("Id", "")),
            name=str(attrs.get("Name", "")).lstrip("/"),
            image=str(config.get("Image", "")),
            labels=dict(config.get("Labels") or {}),
            status=str(state.get("Status", "unknown")),
        )


# Docker's own grammar for container names (its `restrictedNamePattern`), which ids (hex) and
# their prefixes also fit, with the leading `/` the engine shows names with.
_REF = re.compile(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}")
_FULL_ID = re.compile(r"[0-9a-f]{64}")
_ID_PREFIX = re.compile(rf"[0-9a-f]{{{ID_PREFIX_MIN},64}}")


def is_container_ref(ref: str) -> bool:
    """Whether `ref` can name a container or id, and so may be handed to the Docker API.

    The reference comes from the alert. The SDK puts it in the URL path as it is, slashes
    included, and the engine cleans the path: `web/../db` would inspect and act on `db`, and
    `../../images/x` would read an image as if it were a container. Nothing else is a name.
    """
    return _REF.fullmatch(ref) is not None


def is_full_id(ref: str) -> bool:
    """A whole container id: the engine matches it before any name, so it names one container."""
    return _FULL_ID.fullmatch(ref) is not None


def is_id_prefix(ref: str) -> bool:
    """Lowercase hex of at least `ID_PREFIX_MIN` digits: the only id prefix an alert may use."""
    return _ID_PREFIX.fullmatch(ref) is not None


def reference(target: Target) -> tuple[str, RefKind]:
    """What names the container: its id field when it can name one (or is all there is), else its name."""
    if target.id is not None and (is_id_prefix(target.id) or target.name is None):
        return target.id, "id"
    return target.name or "", "name"


def answers_to(target: Target, container: ContainerInfo) -> bool:
    """Whether `container` is the one the alert's reference names; the one rule for every path.

    Docker itself resolves a reference by exact id, then exact name, then any id prefix: `8f`
    would find a container whose id starts `8f`, and a container *named* after another's
    12-digit id would be found for that id. An alert is attacker-written, so it names a
    container only by an id field holding hex of 12+ digits that the full id starts with, or,
    with no usable id, by a name field that is the container's exact name (or hex of 12+
    digits that the full id starts with).
    """
    ref, kind = reference(target)
    by_id = is_id_prefix(ref) and container.id.startswith(ref)
    return by_id if kind == "id" else (by_id or container.name == ref.removeprefix("/"))


def not_found(target: Target | str) -> str:
    """Why there is no live container for the alert's reference: the engine said so, or was not asked."""
    ref, kind = (target, "name") if isinstance(target, str) else reference(target)
    if not is_container_ref(ref):
        return f"{ref[:200]!r} is not a Docker container name or id: the engine was not asked"
    if kind == "id" and not is_id_prefix(ref):
        return (
            f"{ref!r} is no container id (an alert names a container by its exact name, or by "
            f"{ID_PREFIX_MIN} or more hex digits of its id): the engine was not asked"
        )
    return f"container {ref!r} not found on the engine"


_CONTAINER_ID = re.compile(r"/(?:docker/)?containers/([0-9a-f]{64})/")


@functools.cache
def own_container_id() -> str | None:
    """The id of the container this process runs in, or None on a host.

    Docker mounts /etc/hostname and friends from `/var/lib/docker/containers/<id>/`, which
    /proc/self/mountinfo shows whatever the network mode or hostname.
    """
    try:
        mounts = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = _CONTAINER_ID.search(mounts)
    return found.group(1) if found else None
