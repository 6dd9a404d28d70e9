"""Settings: embedded defaults, then the config file, then `RESPONDER_*` variables, then flags."""

from responder.policy import IncidentSettings, Limits, Protection
from responder.settings._auth import ROLES, AuthSettings, ClientSubjects, Role
from responder.settings._loading import ENVIRONMENT, load_settings
from responder.settings._model import (
    DockerSettings,
    ServerSettings,
    Settings,
    TlsSettings,
)

__all__ = [
    "ENVIRONMENT",
    "ROLES",
    "AuthSettings",
    "ClientSubjects",
    "DockerSettings",
    "IncidentSettings",
    "Limits",
    "Protection",
    "Role",
    "ServerSettings",
    "Settings",
    "TlsSettings",
    "load_settings",
]
