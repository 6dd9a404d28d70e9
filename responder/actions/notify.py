"""The `notify` action: tell the named channels about the incident."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from responder.actions._base import Action, ActionParams

__all__ = ["Notify"]


class NotifyParams(ActionParams):
    """Where to send, and optionally what to say (a template; the channel's default otherwise)."""

    channels: list[str] = Field(min_length=1, description="channel names from the configuration")
    message: str | None = Field(default=None, description="message template; default per channel")


class Notify(Action):
    """Notify on-call."""

    name: ClassVar[str] = "notify"
    summary: ClassVar[str] = "send the incident to notification channels through the outbox"
    undo: ClassVar[str] = "nothing; release sends its own notice"
    changes_container: ClassVar[bool] = False
    needs_container: ClassVar[bool] = False
    params: ClassVar[type[ActionParams]] = NotifyParams

    def describe(self, params: NotifyParams, target: str | None) -> str:
        """One line."""
        del target
        return f"notify {', '.join(params.channels)}"
