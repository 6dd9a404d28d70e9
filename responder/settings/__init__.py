"""Settings: embedded defaults, then the config file, then `RESPONDER_*` variables, then flags."""

from responder.policy import IncidentSettings, Limits, Protection
from responder.settings._loading import ENVIRONMENT, load_settings
from responder.settings._model import (
    AuthSettings,
    DockerSettings,
    ServerSettings,
    Settings,
    TlsSettings,
)

__all__ = [
    "ENVIRONMENT",
    "AuthSettings",
    "DockerSettings",
    "IncidentSettings",
    "Limits",
    "Protection",
    "ServerSettings",
    "Settings",
    "TlsSettings",
    "load_settings",
]
