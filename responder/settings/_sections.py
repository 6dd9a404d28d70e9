"""Safety and incident policy from the configuration: protected containers, limits, cooldown."""

from __future__ import annotations

import fnmatch
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from responder.durations import Duration, PositiveDuration

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "IncidentSettings",
    "Limits",
    "Protection",
    "TargetRules",
]

_Model = ConfigDict(frozen=True, extra="forbid")


def _repository(image: str) -> str:
    """`nginx:1.27` and `nginx@sha256:...` -> `nginx`; a registry port is not a tag."""
    name = image.split("@", 1)[0]
    head, _, tail = name.rpartition(":")
    return head if head and "/" not in tail else name


class Protection(BaseModel):
    """Containers never acted on; their incidents are still recorded and notified."""

    model_config = _Model

    label: str = Field(
        default="responder.protect=true", description="`key=value` Docker label that protects"
    )
    names: tuple[str, ...] = Field(default=(), description="container name globs never acted on")
    images: tuple[str, ...] = Field(default=(), description="image globs never acted on")
    protect_self: bool = Field(default=True, description="never act on the responder's container")

    @field_validator("label")
    @classmethod
    def _key_value(cls, value: str) -> str:
        key, sep, _ = value.partition("=")
        if not sep or not key.strip() or key != key.strip():
            raise ValueError(f"{value!r} is not a `key=value` label, e.g. responder.protect=true")
        return value

    @property
    def label_key(self) -> str:
        """The protection label's key."""
        return self.label.partition("=")[0]

    @property
    def label_value(self) -> str:
        """The value the protection label must have."""
        return self.label.partition("=")[2]

    def reason(
        self, *, name: str | None, image: str | None, labels: Mapping[str, str]
    ) -> str | None:
        """Why this container is protected, or None; `protect_self` is the caller's to check."""
        if labels.get(self.label_key) == self.label_value:
            return f"label {self.label}"
        bare = (name or "").lstrip("/")
        for glob in self.names:
            if bare and fnmatch.fnmatchcase(bare, glob):
                return f"name matches {glob}"
        for glob in self.images:
            if image and (
                fnmatch.fnmatchcase(image, glob) or fnmatch.fnmatchcase(_repository(image), glob)
            ):
                return f"image matches {glob}"
        return None


class Limits(BaseModel):
    """How much the responder may do at once, and how hard it tries."""

    model_config = _Model

    max_containments: int = Field(default=5, ge=1, description="containments per window")
    window: PositiveDuration = Field(
        default=timedelta(minutes=10), description="past max_containments in it: notify only"
    )
    concurrency: int = Field(default=8, ge=1, le=256, description="containers acted on at once")
    step_timeout: PositiveDuration = Field(
        default=timedelta(seconds=60), description="default time allowed for one step"
    )
    retries: int = Field(default=3, ge=0, le=100, description="retries of a transient fault")
    retry_backoff: PositiveDuration = Field(
        default=timedelta(seconds=1), description="first wait before a retry; doubles each time"
    )
    retry_backoff_max: PositiveDuration = Field(
        default=timedelta(seconds=30), description="longest wait between retries"
    )
    worker_stall: PositiveDuration = Field(
        default=timedelta(seconds=60),
        description="no progress this long with events waiting (or an event deferred this "
        "long for want of the engine): /readyz says the worker is stalled",
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> Limits:
        if self.retry_backoff_max < self.retry_backoff:
            raise ValueError("retry_backoff_max must be at least retry_backoff")
        return self


class IncidentSettings(BaseModel):
    """How incidents are opened."""

    model_config = _Model

    cooldown: Duration = Field(
        default=timedelta(minutes=10), description="default for playbooks without their own"
    )
    dry_run: bool = Field(default=False, description="act on nothing: every step says 'would'")


class TargetRules(BaseModel):
    """Which Alertmanager labels name the target container, tried in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id_labels: tuple[str, ...] = Field(
        default=("container_id",), description="labels holding a container id, first match wins"
    )
    name_labels: tuple[str, ...] = Field(
        default=("container", "container_name", "name"),
        description="labels holding a container name, first match wins",
    )
