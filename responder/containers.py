"""The live container as the engine describes it: what selectors and safety rules look at."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ContainerInfo"]


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
