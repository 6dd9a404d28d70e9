"""Credentials by role: who sends alerts (intake), who reads them (read), who releases (admin)."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from responder.errors import ConfigError
from responder.secrets import read_credential
from responder.settings._subjects import CertificateSubject

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ROLES", "AuthSettings", "ClientSubjects", "Role"]

Role = Literal["intake", "read", "admin"]
ROLES: tuple[Role, ...] = ("intake", "read", "admin")

_Model = ConfigDict(frozen=True, extra="forbid")
_VARIABLES: dict[Role, str] = {
    "intake": "RESPONDER_TOKEN",
    "read": "RESPONDER_READ_TOKEN",
    "admin": "RESPONDER_ADMIN_TOKEN",
}
_FILE_KEYS: dict[Role, str] = {
    "intake": "auth.token_file",
    "read": "auth.read_token_file",
    "admin": "auth.admin_token_file",
}
# Why two roles may not share a credential: what the holder of the first could then do.
_SHARED_BY: dict[tuple[Role, Role], str] = {
    ("intake", "admin"): "every sender of alerts (Falcosidekick, Alertmanager) could then "
    "release containments",
    ("intake", "read"): "every sender of alerts (Falcosidekick, Alertmanager) could then read "
    "every event, incident and report",
    ("read", "admin"): "whoever only reads could then also release containments",
}
_HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"  # an HTTP header name (RFC 9110 token)


class AuthSettings(BaseModel):
    """A token per role, each sent as a bearer token or in a shared-secret header."""

    model_config = _Model

    token: SecretStr | None = Field(
        default=None, description="intake (sending alerts); from RESPONDER_TOKEN only"
    )
    token_file: Path | None = Field(default=None, description="file holding the intake token")
    header: str = Field(
        default="X-Responder-Token",
        pattern=_HEADER_NAME,
        description="header that carries the token for senders that cannot send a bearer token",
    )
    read_token: SecretStr | None = Field(
        default=None,
        description="reading events, incidents and reports over HTTP; "
        "from RESPONDER_READ_TOKEN only",
    )
    read_token_file: Path | None = Field(default=None, description="file holding the read token")
    admin_token: SecretStr | None = Field(
        default=None, description="release over HTTP, and reading; from RESPONDER_ADMIN_TOKEN only"
    )
    admin_token_file: Path | None = Field(default=None, description="file holding the admin token")

    @model_validator(mode="after")
    def _one_source_each(self) -> AuthSettings:
        for role in ROLES:
            value, path = self._given(role)
            if value is not None and path is not None:
                variable = _VARIABLES[role]
                raise ValueError(f"set {variable} or {variable}_FILE, not both")
        return self

    def _given(self, role: Role) -> tuple[SecretStr | None, Path | None]:
        return {
            "intake": (self.token, self.token_file),
            "read": (self.read_token, self.read_token_file),
            "admin": (self.admin_token, self.admin_token_file),
        }[role]

    def configured(self, role: Role) -> bool:
        """A token is given for the role, by value or by file (not read here)."""
        value, path = self._given(role)
        return value is not None or path is not None

    def source(self, role: Role) -> str:
        """The setting a role's token comes from, for messages: never the token."""
        variable = _VARIABLES[role]
        if self._given(role)[1] is not None:
            return f"{variable}_FILE ({_FILE_KEYS[role]})"
        return variable

    def tokens(self) -> dict[Role, SecretStr]:
        """The token of each role that has one, files read now; ConfigError if two are the same."""
        tokens: dict[Role, SecretStr] = {}
        for role in ROLES:
            token = read_credential(*self._given(role), self.source(role))
            if token is not None:
                tokens[role] = token
        problems = [
            f"the {second} token ({self.source(second)}) is the same as the {first} token "
            f"({self.source(first)}): {why}"
            for (first, second), why in _SHARED_BY.items()
            if first in tokens and second in tokens and _same(tokens[first], tokens[second])
        ]
        if problems:
            raise ConfigError("each role needs its own token:\n  " + "\n  ".join(problems))
        return tokens


def _same(one: SecretStr, other: SecretStr) -> bool:
    return hmac.compare_digest(one.get_secret_value().encode(), other.get_secret_value().encode())


class ClientSubjects(BaseModel):
    """Which verified client certificates may act in which role, by their subject."""

    model_config = _Model

    intake: tuple[CertificateSubject, ...] | None = Field(
        default=None,
        description="subjects that may send alerts; absent: any certificate our CA signed "
        "that is not listed for read or admin",
    )
    read: tuple[CertificateSubject, ...] = Field(
        default=(), description="subjects that may read events, incidents and reports"
    )
    admin: tuple[CertificateSubject, ...] = Field(
        default=(), description="subjects that may release containments, and read"
    )

    @model_validator(mode="after")
    def _one_role_each(self) -> ClientSubjects:
        lists: dict[Role, tuple[str, ...]] = {
            "intake": self.intake or (),
            "read": self.read,
            "admin": self.admin,
        }
        for (first, second), why in _SHARED_BY.items():
            for subject in sorted(set(lists[first]) & set(lists[second])):
                raise ValueError(
                    f"{subject} is listed for both {first} and {second}: {why}; "
                    "give each role its own certificate"
                )
        return self

    def allows(self, role: Role) -> Callable[[str], bool]:
        """Whether a verified certificate of a subject may act in the role.

        A subject listed for read or admin acts in those roles only; without an intake list,
        every other certificate our CA signed may send alerts.
        """
        elsewhere = set(self.read) | set(self.admin)
        if role == "intake" and self.intake is None:
            return lambda subject: subject not in elsewhere
        listed = {"intake": set(self.intake or ()), "read": elsewhere, "admin": set(self.admin)}
        return listed[role].__contains__
