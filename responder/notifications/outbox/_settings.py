"""How the outbox delivers: its settings section (`notifications:`), beside the outbox itself."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from responder.durations import PositiveDuration

__all__ = ["NotificationSettings"]


class NotificationSettings(BaseModel):
    """How the outbox delivers: retries with backoff until a channel answers, or gives up."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    retry_backoff: PositiveDuration = Field(
        default=timedelta(seconds=2), description="first wait after a failed delivery; doubles"
    )
    retry_backoff_max: PositiveDuration = Field(
        default=timedelta(minutes=5), description="longest wait between two attempts"
    )
    give_up_after: PositiveDuration = Field(
        default=timedelta(hours=24), description="a message still failing this long is given up"
    )
    poll_interval: PositiveDuration = Field(
        default=timedelta(seconds=2),
        description="how often to look for messages queued by other processes (CLI release)",
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> NotificationSettings:
        if self.retry_backoff_max < self.retry_backoff:
            raise ValueError("retry_backoff_max must be at least retry_backoff")
        return self
