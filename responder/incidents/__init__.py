"""Incidents: opened by the worker, run step by step, released on demand; kept in SQLite."""

from responder.incidents._model import (
    IncidentRecord,
    IncidentState,
    ReleaseAttempt,
    ReleaseRecord,
    StepRecord,
    StepRelease,
)
from responder.incidents._service import Incidents
from responder.incidents._store import INCIDENTS_FILE, IncidentStore, NewIncident, now

__all__ = [
    "INCIDENTS_FILE",
    "IncidentRecord",
    "IncidentState",
    "IncidentStore",
    "Incidents",
    "NewIncident",
    "ReleaseAttempt",
    "ReleaseRecord",
    "StepRecord",
    "StepRelease",
    "now",
]
