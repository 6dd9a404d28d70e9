"""What asking for an incident can come to instead of an answer: none such, or not finished."""

from __future__ import annotations

from responder.errors import ConflictError, NotFoundError

__all__ = ["IncidentNotFoundError", "IncidentStillRunningError"]


class IncidentNotFoundError(NotFoundError):
    """No incident has this id."""

    def __init__(self, incident_id: str) -> None:
        super().__init__(f"no incident {incident_id!r}")
        self.incident_id = incident_id


class IncidentStillRunningError(ConflictError):
    """The incident is still running its steps: it cannot be released yet."""

    def __init__(self, incident_id: str) -> None:
        super().__init__(
            f"incident {incident_id} is still running its steps; release it when it finishes"
        )
        self.incident_id = incident_id
