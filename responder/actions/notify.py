"""The `notify` action: queue the incident's message for the named channels, through the outbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from responder.actions._base import Action, ActionParams
from responder.actions._results import StepOutcome
from responder.errors import PermanentError

if TYPE_CHECKING:
    from responder.actions._results import ActionContext
    from responder.engine import ContainerInfo

__all__ = ["Notify"]


class NotifyParams(ActionParams):
    """Where to send, and optionally a line of the playbook's own at the top of the message."""

    channels: list[str] = Field(min_length=1, description="channel names from the configuration")
    message: str | None = Field(
        default=None,
        description="a note added to the message (a template); the text is per channel",
    )


class Notify(Action):
    """Notify on-call.

    The step only queues: the outbox delivers with retries, so a channel that is down never
    holds up containment. In dry-run it still sends, and the message says nothing was changed.
    """

    name: ClassVar[str] = "notify"
    summary: ClassVar[str] = "send the incident to notification channels through the outbox"
    undo: ClassVar[str] = "nothing; release sends its own notice to the same channels"
    changes_container: ClassVar[bool] = False
    needs_container: ClassVar[bool] = False
    params: ClassVar[type[ActionParams]] = NotifyParams

    def describe(self, params: NotifyParams, target: str | None) -> str:
        """One line."""
        del target
        return f"notify {', '.join(params.channels)}"

    async def run(
        self, ctx: ActionContext, params: NotifyParams, container: ContainerInfo | None
    ) -> StepOutcome:
        """Queue one message per channel; done once they are durably in the outbox."""
        del container
        if ctx.notify is None:
            raise PermanentError("notifications cannot be queued here (no outbox)")
        detail = await ctx.notify(params.channels, params.message)
        return StepOutcome(status="done", detail=detail, data={"channels": list(params.channels)})
