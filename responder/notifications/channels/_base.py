"""What every notifier is: a channel kind that turns a `Message` into one delivery."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from responder.errors import TransientError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import aiohttp

    from responder.notifications.channels._message import Message

__all__ = ["Delivery", "DeliveryDeferredError", "Notifier"]

C = TypeVar("C")


class DeliveryDeferredError(TransientError):
    """The far end asked us to come back later (HTTP 429 or 503 with `Retry-After`)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        """Seconds the far end asked us to wait, when it said."""


@dataclass(frozen=True)
class Delivery:
    """Which delivery this is: the outbox row and the attempt (1 for the first)."""

    id: int
    attempt: int
    incident_id: str

    @property
    def key(self) -> str:
        """Stable across retries and restarts, unique across responders (incident ids are ULIDs).

        Receivers use it to drop a repeat.
        """
        return f"responder-{self.incident_id}-{self.id}"


class Notifier(ABC, Generic[C]):
    """One configured channel of one kind.

    `send` raises TransientError for faults worth retrying (connection refused, timeouts,
    HTTP 408, 429 and 5xx) and PermanentError for the rest (other 4xx, a secret that cannot be
    read); the outbox retries the first and records the second as failed.
    """

    kind: ClassVar[str]
    """The `kind` in the configuration (`webhook`, `slack`, ...)."""

    def __init__(self, name: str, channel: C, environ: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.channel = channel
        self._environ = environ
        """Where `{env: ...}` secrets are read from; None is os.environ (tests pass their own)."""

    @abstractmethod
    async def send(
        self, message: Message, delivery: Delivery, session: aiohttp.ClientSession
    ) -> str:
        """Deliver one message; returns one line for the record (`HTTP 200`, `250 OK`)."""

    def describe(self) -> dict[str, str]:
        """Settings for `responder notifiers`, secrets shown by reference only."""
        return {}
