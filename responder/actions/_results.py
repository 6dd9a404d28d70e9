"""What a step's run hands back: what happened, how long it took, and what release needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, JsonValue

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from responder.engine import DockerEngine

__all__ = [
    "ActionContext",
    "Artifact",
    "NotifySink",
    "ReleaseOutcome",
    "StepOutcome",
    "StepStatus",
]

StepStatus = Literal["done", "already", "would", "skipped", "failed"]
"""done: changed as asked; already: it was so before (a success); would: dry-run;
skipped: not run (protected, no container, resolved, held); failed: see `error`."""


class Artifact(BaseModel):
    """One piece of evidence, for the chain of custody."""

    model_config = ConfigDict(frozen=True)

    name: str
    """File name under the incident's evidence directory (or `image:<ref>` for a commit)."""
    kind: str
    """top, inspect, logs, diff, export, commit."""
    sha256: str
    size: int
    collected_at: str
    """UTC, ISO 8601."""
    collected_by: str
    """The action and the API call that produced it, e.g. `docker:snapshot (GET /containers/{id}/logs)`."""
    truncated: bool = False


class StepOutcome(BaseModel):
    """The result of one action on one container."""

    model_config = ConfigDict(frozen=True)

    status: StepStatus
    detail: str
    """One line for a person: what it did, or would do, or why not."""
    undo: dict[str, JsonValue] | None = None
    """What release needs to undo this step (None: nothing to undo)."""
    artifacts: tuple[Artifact, ...] = ()
    data: dict[str, Any] = {}


class ReleaseOutcome(BaseModel):
    """The result of undoing one step."""

    model_config = ConfigDict(frozen=True)

    status: Literal["restored", "already", "failed", "nothing"]
    detail: str


class NotifySink(Protocol):
    """Queues the incident's messages for channels; answers one line saying where they went."""

    async def __call__(self, channels: Sequence[str], note: str | None) -> str:
        """Queue durably: when this returns, the messages are in the outbox."""
        ...


@dataclass(frozen=True)
class ActionContext:
    """What an action may use: the engine seam, where evidence goes, and whether to change anything."""

    engine: DockerEngine
    incident_id: str
    evidence_dir: Path
    dry_run: bool = False
    versions: dict[str, str] = field(default_factory=dict)
    """responder and Docker versions, for manifests."""
    notify: NotifySink | None = None
    """Where `notify` queues messages; None where nothing may be sent (plans, tests)."""
