"""What a `notify` step queues: the incident as it stands at that step, steps ahead included."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from responder.notifications.channels import MessageStep
from responder.notifications.messages import MessageFacts
from responder.reports import report_location
from responder.worker.gates import final_state

if TYPE_CHECKING:
    from collections.abc import Sequence

    from responder.actions import ActionRegistry, NotifySink
    from responder.incidents import IncidentRecord, StepRecord
    from responder.notifications.queue import Notifications
    from responder.playbooks import LoadedPlaybook
    from responder.settings import Settings
    from responder.worker.steps import Gate

__all__ = ["NotifyScope", "notify_sink"]


@dataclass(frozen=True)
class NotifyScope:
    """The incident a step belongs to, as its runner sees it."""

    record: IncidentRecord
    loaded: LoadedPlaybook
    context: dict[str, Any]
    gate: Gate
    dry_run: bool


def notify_sink(
    scope: NotifyScope,
    records: Sequence[StepRecord],
    *,
    actions: ActionRegistry,
    notifications: Notifications,
    settings: Settings,
) -> NotifySink:
    """What a `notify` step after `records` queues: the incident as it stands at that step.

    The facts are gathered only when a step notifies; other steps pay nothing for it.
    """
    done = list(records)
    record, gate, dry_run = scope.record, scope.gate, scope.dry_run

    async def notify(channels: Sequence[str], note: str | None) -> str:
        later = scope.loaded.playbook.steps[len(done) + 1 :]
        ahead = [
            MessageStep(action=s.action, status="pending", detail="next")
            for s in later
            if s.action != "notify"
        ]
        changes_ahead = not gate.reason and any(
            (a := actions.get(s.action)) and a.changes_container for s in later
        )
        undoable = any(r.undo is not None for r in done)
        facts = MessageFacts(
            record=record,
            context=scope.context,
            steps=[*done, *ahead],
            state="running" if changes_ahead else final_state(done, actions, gate, dry_run=dry_run),
            dry_run=dry_run,
            report=report_location(record.id, settings.data_dir, settings.server.public_url),
            release_command=settings.release_command(record.id)
            if not dry_run and (undoable or changes_ahead)
            else None,
            note=note,
        )
        return await notifications.for_step(facts, len(done), channels)

    return notify
