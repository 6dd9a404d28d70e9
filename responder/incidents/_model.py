"""Incidents: one playbook acting on one target, its steps, and what release did."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from responder.actions import Artifact, StepStatus

__all__ = ["IncidentRecord", "IncidentState", "ReleaseRecord", "StepRecord"]

IncidentState = Literal[
    "running",  # steps are being run (or will be resumed after a restart)
    "contained",  # every step succeeded and at least one changed the container
    "partially contained",  # a step failed after another changed the container
    "failed",  # a step failed before anything was changed
    "notified",  # the playbook had nothing to do to a container (notify only, host event)
    "dry-run",  # every step ran as "would"
    "protected",  # the target is protected: nothing was done to it
    "held",  # past the containment limit: notified, not contained
    "resolved",  # a resolved alert: containment never starts
    "released",  # release undid everything
    "partially released",  # release could not undo everything; the steps say what
]


class StepRecord(BaseModel):
    """One step as it ran."""

    model_config = ConfigDict(frozen=True)

    index: int
    action: str
    params: dict[str, Any] = {}
    status: StepStatus | Literal["pending"] = "pending"
    detail: str = ""
    started_at: str | None = None
    duration_ms: float | None = None
    attempts: int = 0
    error: str | None = None
    transient: bool = False
    """It failed on a fault that may go away (it outlasted the retries), not for good."""
    undo: dict[str, JsonValue] | None = None
    artifacts: tuple[Artifact, ...] = ()
    data: dict[str, Any] = {}
    """What the action reported beyond its detail (the snapshot's manifest path and hash)."""
    release_status: str | None = None
    release_detail: str | None = None


class ReleaseRecord(BaseModel):
    """What one release did, step by step, in reverse order."""

    model_config = ConfigDict(frozen=True)

    incident_id: str
    state: IncidentState
    steps: tuple[StepRecord, ...]


class IncidentRecord(BaseModel):
    """An incident as stored."""

    model_config = ConfigDict(frozen=True)

    id: str
    playbook: str
    playbook_digest: str
    playbook_file: str
    target: str | None
    container_id: str | None
    container_name: str | None
    image: str | None
    state: IncidentState
    reason: str | None
    dry_run: bool
    event_source: str
    event_name: str
    priority: str
    first_event: str
    event_count: int
    first_seen: str
    last_seen: str
    opened_at: str
    finished_at: str | None
    released_at: str | None
    steps: tuple[StepRecord, ...] = ()

    def release_command(self) -> str:
        """The exact command that undoes this incident's containment."""
        return f"responder release {self.id}"
