"""The channel kinds: what each one is configured with, and what it checks at load."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from responder.channels._fields import (
    EmailAddress,
    HeaderName,
    HeaderValue,
    HttpUrlText,
    MessageTemplate,
    PriorityLevel,
    check_http_url,
)
from responder.errors import ConfigError
from responder.events import Priority
from responder.policy import PositiveDuration
from responder.secrets import SecretRef

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "CHANNEL_KINDS",
    "Channel",
    "EmailChannel",
    "LogChannel",
    "PagerDutyChannel",
    "SlackChannel",
    "TeamsChannel",
    "WebhookChannel",
]

CHANNEL_KINDS = ("log", "webhook", "slack", "teams", "pagerduty", "email")

# Header names whose values are credentials: they go in `secret_headers`, never in `headers`.
_SECRET_HEADER = re.compile(
    r"authorization|cookie|token|secret|password|api[-_]?key", re.IGNORECASE
)

PagerDutySeverity = Literal["critical", "error", "warning", "info"]
_PAGERDUTY_DEFAULT: dict[Priority, PagerDutySeverity] = {
    Priority.EMERGENCY: "critical",
    Priority.ALERT: "critical",
    Priority.CRITICAL: "critical",
    Priority.ERROR: "error",
    Priority.WARNING: "warning",
    Priority.NOTICE: "info",
    Priority.INFORMATIONAL: "info",
    Priority.DEBUG: "info",
}


class _Channel(BaseModel):
    """What every channel has: an optional message template and a priority floor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    template: MessageTemplate | None = Field(
        default=None, description="message template (sandboxed Jinja); the kind's default if unset"
    )
    min_priority: PriorityLevel | None = Field(
        default=None, description="events below this Falco priority are not sent here"
    )
    timeout: PositiveDuration = Field(
        default=timedelta(seconds=10), description="time allowed to deliver one message"
    )

    def secret_refs(self) -> dict[str, SecretRef]:
        """Every secret this channel refers to, keyed by its field (`secret_headers.X-Api-Key`)."""
        found: dict[str, SecretRef] = {}
        for name, value in self:
            if isinstance(value, SecretRef):
                found[name] = value
            elif isinstance(value, dict):
                found |= {f"{name}.{k}": v for k, v in value.items() if isinstance(v, SecretRef)}
        return found

    def wants(self, priority: Priority) -> bool:
        """Whether an event of this priority is sent to this channel."""
        return self.min_priority is None or priority >= self.min_priority


class WebhookChannel(_Channel):
    """A generic JSON webhook: POST the incident, with optional headers and an HMAC signature."""

    kind: Literal["webhook"] = "webhook"
    url: HttpUrlText | None = Field(default=None, description="where to POST, when not secret")
    url_secret: SecretRef | None = Field(
        default=None, description="the URL by reference, for URLs that embed a token"
    )
    headers: dict[HeaderName, HeaderValue] = Field(
        default_factory=dict, description="extra headers that are not secret"
    )
    secret_headers: dict[HeaderName, SecretRef] = Field(
        default_factory=dict, description="headers whose values are secrets, by reference"
    )
    hmac_secret: SecretRef | None = Field(
        default=None, description="sign the body with HMAC-SHA256 using this key"
    )
    hmac_header: HeaderName = Field(
        default="X-Responder-Signature", description="header that carries the signature"
    )

    @model_validator(mode="after")
    def _check(self) -> WebhookChannel:
        if (self.url is None) == (self.url_secret is None):
            raise ValueError("give exactly one of url or url_secret")
        for name in self.headers:
            if _SECRET_HEADER.search(name):
                raise ValueError(
                    f"header {name!r} carries a credential: move it to secret_headers "
                    "and refer to an environment variable or a file"
                )
        seen = [name.lower() for name in (*self.headers, *self.secret_headers)]
        if self.hmac_secret is not None:
            seen.append(self.hmac_header.lower())
        doubled = sorted({name for name in seen if seen.count(name) > 1})
        if doubled:
            raise ValueError(f"header set twice: {', '.join(doubled)}")
        return self

    def resolve_url(self, environ: Mapping[str, str] | None = None) -> str:
        """The URL to POST to, read from its secret when given by reference."""
        if self.url is not None:
            return self.url
        assert self.url_secret is not None  # noqa: S101 - the validator guarantees one of the two
        url = self.url_secret.resolve(environ).get_secret_value().strip()
        try:
            return check_http_url(url)
        except ValueError as exc:
            raise ConfigError(f"{self.url_secret}: {exc}") from None


class LogChannel(_Channel):
    """Messages go to the responder's own log.

    The embedded default: until channels are configured, `oncall` is a log channel, so the
    shipped playbooks load with no configuration at all.
    """

    kind: Literal["log"] = "log"


class SlackChannel(_Channel):
    """A Slack incoming webhook; its URL is a credential, so it is given by reference."""

    kind: Literal["slack"] = "slack"
    webhook_url: SecretRef = Field(description="the incoming webhook URL, by reference")
    channel: str | None = Field(default=None, description="override the webhook's channel")
    username: str | None = Field(default=None, description="override the webhook's name")


class TeamsChannel(_Channel):
    """A Microsoft Teams incoming webhook (or Workflows URL), given by reference."""

    kind: Literal["teams"] = "teams"
    webhook_url: SecretRef = Field(description="the webhook URL, by reference")


class PagerDutyChannel(_Channel):
    """PagerDuty Events API v2: trigger on an incident, resolve when it is released."""

    kind: Literal["pagerduty"] = "pagerduty"
    routing_key: SecretRef = Field(description="the integration (routing) key, by reference")
    url: HttpUrlText = Field(
        default="https://events.pagerduty.com/v2/enqueue", description="Events API v2 endpoint"
    )
    severity_map: dict[PriorityLevel, PagerDutySeverity] = Field(
        default_factory=dict, description="Falco priority -> PagerDuty severity, over the default"
    )

    def severity(self, priority: Priority) -> PagerDutySeverity:
        """The PagerDuty severity for an event of this priority."""
        return self.severity_map.get(priority, _PAGERDUTY_DEFAULT[priority])


class EmailChannel(_Channel):
    """Email over SMTP with STARTTLS, implicit TLS or (on a trusted network) neither."""

    kind: Literal["email"] = "email"
    host: str = Field(min_length=1, description="SMTP server")
    port: int = Field(default=587, ge=1, le=65535, description="587; 465 when security is tls")
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls, tls (implicit, port 465) or none"
    )
    username: str | None = Field(default=None, min_length=1, description="SMTP login")
    password: SecretRef | None = Field(default=None, description="SMTP password, by reference")
    sender: EmailAddress = Field(description="the From address")
    recipients: tuple[EmailAddress, ...] = Field(min_length=1, description="the To addresses")
    ca_file: Path | None = Field(
        default=None, description="PEM bundle to trust instead of the system CAs (internal CA)"
    )

    @model_validator(mode="before")
    @classmethod
    def _tls_port(cls, data: Any) -> Any:  # noqa: ANN401 - validators see raw YAML
        if isinstance(data, dict) and "port" not in data and data.get("security") == "tls":
            return {**data, "port": 465}
        return data

    @model_validator(mode="after")
    def _login_and_tls(self) -> EmailChannel:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        if self.ca_file is not None and self.security == "none":
            raise ValueError("ca_file needs security starttls or tls")
        return self


Channel = Annotated[
    LogChannel | WebhookChannel | SlackChannel | TeamsChannel | PagerDutyChannel | EmailChannel,
    Field(discriminator="kind"),
]
