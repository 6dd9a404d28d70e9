"""The small error hierarchy that drives behaviour: what is retried, what is refused, what is shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ConfigError",
    "ConflictError",
    "InputError",
    "JournalUnavailableError",
    "Leftovers",
    "NotFoundError",
    "PermanentError",
    "ResponderError",
    "TransientError",
]


class Leftovers(Protocol):
    """What a step that failed still leaves behind (an action's `StepOutcome` so far)."""

    @property
    def detail(self) -> str:
        """What it did before it failed, in one line."""

    @property
    def artifacts(self) -> tuple[Any, ...]:
        """The files it took, with their hashes."""

    @property
    def data(self) -> Mapping[str, Any]:
        """What else it reported (a manifest's path and hash)."""


class ResponderError(Exception):
    """Base of every error the responder raises on purpose."""

    kept: Leftovers | None = None
    """What a step that failed with this error leaves behind and must still list: its
    artifacts and manifest (a snapshot that gave up half-way), or None."""


class TransientError(ResponderError):
    """A fault that may go away: retried with backoff."""


class PermanentError(ResponderError):
    """A fault that retrying will not fix."""


class ConfigError(PermanentError):
    """A setting, flag or file the user wrote is wrong; the message names where."""


class NotFoundError(PermanentError):
    """What was asked for by its id does not exist (the HTTP API answers 404)."""


class ConflictError(PermanentError):
    """What was asked cannot be done in the state it is in now (the HTTP API answers 409)."""


class InputError(PermanentError):
    """A request body or file that cannot be accepted, with an HTTP status and the field at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}
        self.close = close
        """The connection cannot carry another request (its body could not be read)."""


class JournalUnavailableError(TransientError):
    """The journal cannot be written: nothing is acknowledged, the sender should retry."""
