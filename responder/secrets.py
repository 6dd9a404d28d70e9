"""Credentials by reference: the configuration names an environment variable or a file, never a value."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from responder.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["BY_REFERENCE_ONLY", "SecretRef", "read_credential"]

BY_REFERENCE_ONLY = (
    "secrets do not belong in the configuration file; put the value in an environment "
    "variable or a file and refer to it: {env: VARIABLE} or {file: /run/secrets/name}"
)


class SecretRef(BaseModel):
    """Where a secret is kept: exactly one of an environment variable or a file (Docker secrets)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="name of the environment variable that holds the secret",
    )
    file: Path | None = Field(
        default=None, description="file that holds the secret, e.g. /run/secrets/slack_url"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_literal(cls, data: Any) -> Any:  # noqa: ANN401 - validators see raw YAML
        if not isinstance(data, dict | SecretRef):
            raise ValueError(BY_REFERENCE_ONLY)  # noqa: TRY004 - pydantic wants ValueError
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env (a variable name) or file (a path)")
        return self

    def __str__(self) -> str:
        """Where the secret comes from, for messages; never the secret itself."""
        if self.env is not None:
            return f"environment variable {self.env}"
        return f"secret file {self.file}"

    def resolve(self, environ: Mapping[str, str] | None = None) -> SecretStr:
        """Read the secret now; a ConfigError names the variable or file when it cannot."""
        if self.env is not None:
            env = os.environ if environ is None else environ
            value = env.get(self.env)
            if value is None:
                raise ConfigError(f"{self}: is not set")
        elif self.file is not None:
            try:
                value = self.file.read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{self}: cannot read: {exc}") from exc
        else:  # pragma: no cover - the validator guarantees one of the two
            raise ConfigError("a secret reference names neither a variable nor a file")
        if not value.strip():
            raise ConfigError(f"{self}: is empty")
        return SecretStr(value)


def read_credential(value: SecretStr | None, path: Path | None, name: str) -> SecretStr | None:
    """A credential given as a value (from the environment) or as a file; None if neither.

    A file holds the credential with surrounding whitespace removed (as `echo` and `base64`
    write it). Either way it must be UTF-8 text: a header that carries it is compared byte
    for byte. A ConfigError names the setting, never the secret.
    """
    if path is None:
        if value is not None and not _is_utf8(value.get_secret_value()):
            # Python keeps bytes of the environment that are not UTF-8 as lone surrogates.
            raise ConfigError(f"{name}: is not UTF-8 text")
        return value
    try:
        text = path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: token file {path}: is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{name}: token file {path}: cannot read: {exc}") from exc
    if not text:
        raise ConfigError(f"{name}: token file {path}: is empty")
    return SecretStr(text)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
