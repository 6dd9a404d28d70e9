"""The settings model: every section, its defaults, and what the rest of the code asks of it."""

from __future__ import annotations

import ipaddress
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    model_validator,
)

from responder.audit import AuditSettings
from responder.engine import DockerSettings, own_container_id
from responder.errors import ConfigError
from responder.notifications.channels import Channel, ChannelName, HttpUrlText, LogChannel
from responder.notifications.outbox import NotificationSettings
from responder.retention import RetentionSettings
from responder.settings._auth import AuthSettings, ClientSubjects, Role
from responder.settings._sections import (
    IncidentSettings,
    Limits,
    Protection,
    TargetRules,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ServerSettings", "Settings", "TlsSettings"]

_Model = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(BaseModel):
    """Where and how the HTTP server listens."""

    model_config = _Model

    host: str = Field(default="127.0.0.1", description="address to bind; loopback by default")
    port: int = Field(default=8470, ge=0, le=65535, description="TCP port of the HTTP API")
    insecure: bool = Field(
        default=False, description="allow a non-loopback address with no credential configured"
    )
    max_body_bytes: int = Field(default=1 << 20, ge=1024, description="larger bodies get 413")
    body_timeout: float = Field(default=10.0, gt=0, description="seconds to receive a body; 408")
    idle_timeout: float = Field(
        default=15.0,
        gt=0,
        description="a connection with no request under way is closed after this many seconds; "
        "this also bounds how long request headers may take to arrive (slowloris)",
    )
    shutdown_timeout: float = Field(default=30.0, ge=0, description="grace for in-flight requests")
    access_log: bool = Field(default=False, description="log one line per HTTP request")
    public_url: HttpUrlText | None = Field(
        default=None,
        description="the responder's address as on-call reaches it; messages then link reports",
    )


class TlsSettings(BaseModel):
    """Serve HTTPS; with `client_ca`, require and verify client certificates (mutual TLS)."""

    model_config = _Model

    cert: Path
    key: Path
    client_ca: Path | None = None
    client_subjects: ClientSubjects | None = Field(
        default=None,
        description="which certificate subjects may act in which role; absent: any verified "
        "certificate sends alerts, and reading and release need their tokens",
    )

    @model_validator(mode="after")
    def _subjects_need_a_ca(self) -> TlsSettings:
        if self.client_subjects is not None and self.client_ca is None:
            raise ValueError(
                "client_subjects needs client_ca: client certificates are only asked for, "
                "and verified, against a client CA"
            )
        return self


AbsolutePath = Annotated[Path, AfterValidator(lambda path: path.absolute())]
"""A path made absolute where the settings are read: the paths in messages, reports and the
release command then work from any directory."""


def _default_channels() -> dict[str, Channel]:
    return {"oncall": LogChannel()}


class Settings(BaseModel):
    """Everything the responder needs; every field has a default so no file is required."""

    model_config = _Model

    data_dir: AbsolutePath = Field(
        default=Path("data"),
        validate_default=True,
        description="journal, evidence, reports and the audit log; relative to the start directory",
    )
    playbooks: Path = Field(default=Path("playbooks"), description="playbook directory")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    server: ServerSettings = ServerSettings()
    auth: AuthSettings = AuthSettings()
    tls: TlsSettings | None = None
    docker: DockerSettings = DockerSettings()
    targets: TargetRules = TargetRules()
    channels: dict[ChannelName, Channel] = Field(
        default_factory=_default_channels,
        description="named notification channels; by default `oncall` writes to the log",
    )
    protection: Protection = Protection()
    limits: Limits = Limits()
    incidents: IncidentSettings = IncidentSettings()
    notifications: NotificationSettings = NotificationSettings()
    retention: RetentionSettings = RetentionSettings()
    audit: AuditSettings = AuditSettings()
    _config_file: Path | None = PrivateAttr(default=None)
    """The file these settings were read from, for commands that must read it again."""

    def release_command(self, incident_id: str) -> str:
        """The exact command that releases an incident, runnable from any directory.

        In a container (the compose stack), its paths and its Docker endpoint are the
        container's: the command runs there, through `docker exec` from the host.
        """
        parts = ["responder", "release"]
        if self._config_file is not None:
            parts += ["--config", str(self._config_file.resolve())]
        parts += ["--data-dir", str(self.data_dir), incident_id]
        container = own_container_id()
        if container is not None:
            parts = ["docker", "exec", container[:12], *parts]
        return shlex.join(parts)

    def channel_names(self) -> set[str]:
        """The names a playbook's `notify` step may use."""
        return set(self.channels)

    def check_secrets(self, environ: Mapping[str, str] | None = None) -> None:
        """Read every channel secret once; one ConfigError lists each that cannot be read."""
        problems = []
        for name, channel in sorted(self.channels.items()):
            for field, ref in channel.secret_refs().items():
                try:
                    ref.resolve(environ)
                except ConfigError as exc:
                    problems.append(f"channels.{name}.{field}: {exc}")
        if problems:
            raise ConfigError("unreadable secrets:\n  " + "\n  ".join(problems))

    @property
    def mutual_tls(self) -> bool:
        """Clients must present a certificate signed by our CA."""
        return self.tls is not None and self.tls.client_ca is not None

    @property
    def has_credential(self) -> bool:
        """Intake is authenticated (a token or mutual TLS): no one else can send alerts."""
        return self.auth.configured("intake") or self.mutual_tls

    @property
    def loopback_only(self) -> bool:
        """The server listens only on this machine."""
        host = self.server.host
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def tokens(self) -> dict[Role, SecretStr]:
        """The token of each role that has one, files read now; ConfigError if two are the same."""
        return self.auth.tokens()

    def client_subjects(self) -> ClientSubjects:
        """Which verified client certificates may act in which role."""
        subjects = self.tls.client_subjects if self.tls is not None else None
        return subjects or ClientSubjects()

    def check_exposure(self) -> None:
        """Refuse to listen beyond loopback without a credential unless told `--insecure`."""
        if self.has_credential or self.loopback_only or self.server.insecure:
            return
        raise ConfigError(
            f"refusing to listen on {self.server.host} with no credential: set RESPONDER_TOKEN "
            "or RESPONDER_TOKEN_FILE, configure mutual TLS, or pass --insecure"
        )
