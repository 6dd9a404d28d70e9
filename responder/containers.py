"""The live container as the engine describes it: what selectors and safety rules look at."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ContainerInfo", "is_container_ref", "not_found", "own_container_id"]


@dataclass(frozen=True)
class ContainerInfo:
    """Identity, image, labels and state of one container."""

    id: str
    name: str
    image: str
    labels: Mapping[str, str] = field(default_factory=dict)
    status: str = "running"

    @property
    def running(self) -> bool:
        """Running (paused counts as not running)."""
        return self.status == "running"

    @classmethod
    def from_inspect(cls, attrs: Mapping[str, Any]) -> ContainerInfo:
        """From the engine's `inspect` document."""
        config = attrs.get("Config") or {}
        state = attrs.get("State") or {}
        return cls(
            id=str(attrs.get("Id", ""))[:12],
            name=str(attrs.get("Name", "")).lstrip("/"),
            image=str(config.get("Image", "")),
            labels=dict(config.get("Labels") or {}),
            status=str(state.get("Status", "unknown")),
        )


# Docker's own grammar for container names (its `restrictedNamePattern`), which ids (hex) and
# their prefixes also fit, with the leading `/` the engine shows names with.
_REF = re.compile(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}")


def is_container_ref(ref: str) -> bool:
    """Whether `ref` can name a container or id, and so may be handed to the Docker API.

    The reference comes from the alert. The SDK puts it in the URL path as it is, slashes
    included, and the engine cleans the path: `web/../db` would inspect and act on `db`, and
    `../../images/x` would read an image as if it were a container. Nothing else is a name.
    """
    return _REF.fullmatch(ref) is not None


def not_found(ref: str) -> str:
    """Why there is no live container for `ref`: the engine does not know it, or it is no name."""
    if not is_container_ref(ref):
        return f"{ref[:200]!r} is not a Docker container name or id: the engine was not asked"
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
