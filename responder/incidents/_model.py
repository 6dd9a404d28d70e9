"""Incidents: one playbook acting on one target, its steps, and what release did."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from responder.actions import Artifact, StepStatus

__all__ = [
    "IncidentRecord",
    "IncidentState",
    "ReleaseAttempt",
    "ReleaseRecord",
    "StepRecord",
    "StepRelease",
]

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

    def left_a_change(self) -> bool:
        """Whether this incident made a change this step's undo reverses (as release decides).

        "already" counts only when this step itself may have made it: resumed after a crash,
        or retried after an attempt that timed out.
        """
        if self.undo is None:
            return False
        return self.status == "done" or (
            self.status == "already" and bool(self.data.get("resumed"))
        )

    def awaits_release(self) -> bool:
        """Whether a change of this step is still in place: never released, or not undone."""
        return self.left_a_change() and self.release_status not in _UNDONE


_UNDONE = frozenset({"restored", "already"})
"""Release outcomes after which the step's change is no longer in place."""


class StepRelease(BaseModel):
    """What one release did to one step."""

    model_config = ConfigDict(frozen=True)

    index: int
    action: str
    status: str
    """restored, already, failed or nothing."""
    detail: str


class ReleaseAttempt(BaseModel):
    """One release of an incident, kept for good: when, who asked, and what came of it."""

    model_config = ConfigDict(frozen=True)

    number: int
    """1 for the incident's first release, 2 for the next, ..."""
    at: str
    requested_by: str
    state: IncidentState
    """released or partially released."""
    steps: tuple[StepRelease, ...] = ()
    """Each step it undid, last step first (the order release works in)."""


class ReleaseRecord(BaseModel):
    """What one release did, step by step, in reverse order."""

    model_config = ConfigDict(frozen=True)

    incident_id: str
    state: IncidentState
    steps: tuple[StepRecord, ...]
    number: int
    """Which release of the incident this was (1 for the first)."""
    at: str
    requested_by: str


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
    releases: tuple[ReleaseAttempt, ...] = ()
    """Every release of the incident, oldest first; `released_at` is the last one's time."""

    def release_command(self) -> str:
        """The exact command that undoes this incident's containment."""
        return f"responder release {self.id}"

    def awaits_release(self) -> bool:
        """Whether release has something left to undo: a step's change is still in place."""
        return not self.dry_run and any(step.awaits_release() for step in self.steps)
