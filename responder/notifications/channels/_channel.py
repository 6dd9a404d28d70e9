"""What every channel kind is configured with: a message template, a priority floor, a timeout."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from responder.durations import PositiveDuration
from responder.notifications.channels._fields import MessageTemplate, PriorityLevel
from responder.secrets import SecretRef

if TYPE_CHECKING:
    from responder.journal import Priority

__all__ = ["ChannelSettings"]


class ChannelSettings(BaseModel):
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
