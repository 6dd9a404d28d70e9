"""One queued notification as the outbox stores it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from responder.notifications.channels import Message

__all__ = ["OutboxRecord", "OutboxState"]

OutboxState = Literal["pending", "sent", "failed"]
"""pending: queued or being retried; sent: the far end accepted it; failed: given up (a
permanent error, or still failing after `notifications.give_up_after`)."""


class OutboxRecord(BaseModel):
    """A message for one channel and where its delivery stands."""

    model_config = ConfigDict(frozen=True)

    id: int
    incident_id: str
    channel: str
    kind: str
    """The channel's kind when it was queued (webhook, slack, ...)."""
    message: Message
    state: OutboxState
    attempts: int
    last_error: str | None
    detail: str | None
    """What the far end answered on success (`HTTP 202`)."""
    created_at: str
    sent_at: str | None
    next_attempt_at: float
    """Unix time of the next attempt while pending."""

    def delivery(self) -> dict[str, Any]:
        """Where this message's delivery stands, without its body, as the incident views show it."""
        return self.model_dump(mode="json", exclude={"message", "next_attempt_at"}) | {
            "title": self.message.title,
            "message_kind": self.message.kind,
        }
