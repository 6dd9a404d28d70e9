"""Incidents: opened by the worker, run step by step, released on demand; kept in SQLite."""

from responder.incidents._anchor import AuditAnchor
from responder.incidents._dispatching import Deferred, Joined, SetAside
from responder.incidents._errors import IncidentNotFoundError, IncidentStillRunningError
from responder.incidents._model import (
    IncidentRecord,
    IncidentState,
    ReleaseAttempt,
    ReleaseRecord,
    StepRecord,
    StepRelease,
)
from responder.incidents._service import Incidents
from responder.incidents._store import (
    INCIDENTS_FILE,
    Dispatch,
    IncidentStore,
    JoinQuery,
    NewIncident,
)
from responder.incidents._times import now, window_start

__all__ = [
    "INCIDENTS_FILE",
    "AuditAnchor",
    "Deferred",
    "Dispatch",
    "IncidentNotFoundError",
    "IncidentRecord",
    "IncidentState",
    "IncidentStillRunningError",
    "IncidentStore",
    "Incidents",
    "JoinQuery",
    "Joined",
    "NewIncident",
    "ReleaseAttempt",
    "ReleaseRecord",
    "SetAside",
    "StepRecord",
    "StepRelease",
    "now",
    "window_start",
]
