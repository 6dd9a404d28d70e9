"""What a `notify` step queues: the incident as it stands at that step, steps ahead included."""

from __future__ import annotations

from typing import TYPE_CHECKING

from responder.notifications.channels import MessageStep
from responder.notifications.messages import MessageFacts
from responder.reports import report_location
from responder.worker.gates import final_state

if TYPE_CHECKING:
    from collections.abc import Sequence

    from responder.actions import ActionRegistry, NotifySink
    from responder.incidents import StepRecord
    from responder.notifications.queue import Notifications
    from responder.settings import Settings
    from responder.worker.steps import IncidentRun

__all__ = ["notify_sink", "step_facts"]


def notify_sink(
    run: IncidentRun,
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

    async def notify(channels: Sequence[str], note: str | None) -> str:
        facts = step_facts(run, done, note, actions=actions, settings=settings)
        return await notifications.for_step(facts, len(done), channels)

    return notify


def step_facts(
    run: IncidentRun,
    done: Sequence[StepRecord],
    note: str | None,
    *,
    actions: ActionRegistry,
    settings: Settings,
) -> MessageFacts:
    """The incident after the steps `done`: those, then the container steps still ahead."""
    later = run.loaded.playbook.steps[len(done) + 1 :]
    ahead = [
        MessageStep(action=s.action, status="pending", detail="next")
        for s in later
        if s.action != "notify"
    ]
    changes_ahead = not run.gate.reason and any(
        (a := actions.get(s.action)) and a.changes_container for s in later
    )
    undoable = any(r.undo is not None for r in done)
    record, dry_run = run.record, run.dry_run
    return MessageFacts(
        record=record,
        context=run.context,
        steps=[*done, *ahead],
        state="running" if changes_ahead else final_state(done, actions, run.gate, dry_run=dry_run),
        dry_run=dry_run,
        report=report_location(record.id, settings.data_dir, settings.server.public_url),
        release_command=settings.release_command(record.id)
        if not dry_run and (undoable or changes_ahead)
        else None,
        note=note,
    )
