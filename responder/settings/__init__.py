"""Settings: embedded defaults, then the config file, then `RESPONDER_*` variables, then flags."""

from responder.engine import DockerSettings
from responder.notifications.outbox import NotificationSettings
from responder.settings._auth import ROLES, AuthSettings, ClientSubjects, Role
from responder.settings._loading import ENVIRONMENT, load_settings
from responder.settings._model import (
    ServerSettings,
    Settings,
    TlsSettings,
)
from responder.settings._sections import (
    IncidentSettings,
    Limits,
    Protection,
    TargetRules,
)
from responder.settings._yaml import (
    MAX_DEPTH,
    MAX_NODES,
    Located,
    describe_problem,
    dotted_path,
    find_files,
    format_validation_error,
    load_yaml_documents,
)

__all__ = [
    "ENVIRONMENT",
    "MAX_DEPTH",
    "MAX_NODES",
    "ROLES",
    "AuthSettings",
    "ClientSubjects",
    "DockerSettings",
    "IncidentSettings",
    "Limits",
    "Located",
    "NotificationSettings",
    "Protection",
    "Role",
    "ServerSettings",
    "Settings",
    "TargetRules",
    "TlsSettings",
    "describe_problem",
    "dotted_path",
    "find_files",
    "format_validation_error",
    "load_settings",
    "load_yaml_documents",
]
