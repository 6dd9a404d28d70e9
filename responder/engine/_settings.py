"""How to reach the Docker engine: its settings section (`docker:`), beside the engine itself."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DockerSettings"]


class DockerSettings(BaseModel):
    """How to reach the Docker engine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str | None = Field(default=None, description="engine address; DOCKER_HOST or the socket")
    timeout: float = Field(default=10.0, gt=0, description="seconds per Docker API call")
