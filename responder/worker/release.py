"""Release: undo an incident's containment in reverse order, and say exactly what stayed."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from responder.actions import ActionContext, ReleaseOutcome
from responder.engine import is_full_id, is_id_prefix
from responder.errors import ResponderError
from responder.incidents import (
    IncidentNotFoundError,
    IncidentStillRunningError,
    ReleaseRecord,
    StepRelease,
)
from responder.journal import Target
from responder.notifications.channels import MessageStep
from responder.notifications.messages import MessageFacts
from responder.playbooks import template_context

if TYPE_CHECKING:
    from pathlib import Path

    from responder.actions import ActionRegistry
    from responder.engine import DockerEngine
    from responder.incidents import (
        IncidentRecord,
        Incidents,
        IncidentState,
        StepRecord,
    )
    from responder.worker.followup import FollowUp

__all__ = ["release_incident"]

log = logging.getLogger(__name__)


async def _undo(
    step: StepRecord, actions: ActionRegistry, ctx: ActionContext, ref: str
) -> ReleaseOutcome:
    action = actions.get(step.action)
    if action is None or step.undo is None:
        return ReleaseOutcome(status="nothing", detail=f"{step.action}: nothing to undo")
    try:
        return await action.release(ctx, step.undo, ref)
    except Exception as exc:  # noqa: BLE001 - one step that cannot be undone does not stop the others
        return ReleaseOutcome(status="failed", detail=f"{step.action}: could not be undone: {exc}")


async def _container_ref(record: IncidentRecord, engine: DockerEngine) -> str | ReleaseOutcome:
    """The full id release acts on: the incident's own, recorded when its alert was resolved.

    An incident recorded by an older responder holds a 12-digit id: it is resolved by the one
    rule (never by a name that looks like it), so release, too, acts only on that container.
    """
    recorded = record.container_id or ""
    if is_full_id(recorded) or not is_id_prefix(recorded):
        return recorded  # no full id: the action refuses it and says why
    try:
        found = await engine.resolve(Target(id=recorded))
    except ResponderError as exc:
        return ReleaseOutcome(status="failed", detail=f"could not be undone: {exc}")
    return found.id if found is not None else recorded


async def _save(incidents: Incidents, incident_id: str, step: StepRecord) -> None:
    await incidents.run(lambda store: store.save_step(incident_id, step))


async def release_incident(
    incident_id: str,
    *,
    incidents: Incidents,
    engine: DockerEngine,
    actions: ActionRegistry,
    data_dir: Path,
    followup: FollowUp,
    requested_by: str,
) -> ReleaseRecord:
    """Undo every step that recorded an undo, last first; releasing twice is harmless.

    Each release is kept beside the earlier ones (time, who asked, what each step came to).
    Then the channels that heard about the incident hear about its release (PagerDuty:
    resolve), the report is written again, and the audit log says who released what.
    IncidentNotFoundError, IncidentStillRunningError: nothing was done.
    """
    record = await incidents.run(lambda store: store.get(incident_id))
    if record is None:
        raise IncidentNotFoundError(incident_id)
    if record.state == "running":
        raise IncidentStillRunningError(incident_id)
    ctx = ActionContext(
        engine=engine, incident_id=incident_id, evidence_dir=data_dir / "evidence" / incident_id
    )
    released = await _undo_steps(record, actions, ctx, incidents)
    failed = [s for s in released if s.release_status == "failed"]
    state: IncidentState = "partially released" if failed else "released"
    kept = await _keep(
        record, released, state, incidents=incidents, followup=followup, requested_by=requested_by
    )
    await _tell(record, released, state, followup)
    await followup.write_report(incident_id)
    undone, n_failed = len(released), len(failed)
    log.info("incident %s %s (%d steps undone, %d failed)", incident_id, state, undone, n_failed)
    return kept


async def _undo_steps(
    record: IncidentRecord, actions: ActionRegistry, ctx: ActionContext, incidents: Incidents
) -> list[StepRecord]:
    """Undo each step that left a change, last first; each step saved with what came of it."""
    released: list[StepRecord] = []
    ref: str | ReleaseOutcome | None = None
    for step in sorted(record.steps, key=lambda s: s.index, reverse=True):
        if not step.left_a_change():
            continue
        if ref is None:
            ref = await _container_ref(record, ctx.engine)
        outcome = (
            await _undo(step, actions, ctx, ref)
            if isinstance(ref, str)
            else ReleaseOutcome(status="failed", detail=f"{step.action}: {ref.detail}")
        )
        updated = step.model_copy(
            update={"release_status": outcome.status, "release_detail": outcome.detail}
        )
        await _save(incidents, record.id, updated)
        released.append(updated)
    return released


async def _keep(
    record: IncidentRecord,
    released: list[StepRecord],
    state: IncidentState,
    *,
    incidents: Incidents,
    followup: FollowUp,
    requested_by: str,
) -> ReleaseRecord:
    """Keep this release beside the earlier ones, as the incident's state, and audit it."""
    outcomes = [
        StepRelease(
            index=s.index,
            action=s.action,
            status=s.release_status or "nothing",
            detail=s.release_detail or "",
        )
        for s in released
    ]
    attempt = await incidents.run(
        lambda store: store.released(record.id, state, requested_by=requested_by, steps=outcomes)
    )
    followup.audit.record(
        "incident.released",
        incident=record.id,
        state=state,
        release=attempt.number,
        requested_by=requested_by,
        steps=[
            {"index": s.index, "action": s.action, "release": s.release_status} for s in released
        ],
    )
    return ReleaseRecord(
        incident_id=record.id,
        state=state,
        steps=tuple(released),
        number=attempt.number,
        at=attempt.at,
        requested_by=requested_by,
    )


async def _tell(
    before: IncidentRecord, released: list[StepRecord], state: IncidentState, followup: FollowUp
) -> None:
    """The release notice, once per release that changed something; a failure is only logged.

    A repeat release that finds everything already undone sends nothing new.
    """
    restored = any(s.release_status == "restored" for s in released)
    if before.state in ("released", "partially released") and not restored:
        return
    try:
        await _announce(before, released, state, followup)
    except Exception:  # the release happened; a failing notice must not hide that
        log.exception("incident %s: the release notice could not be queued", before.id)


async def _announce(
    before: IncidentRecord, released: list[StepRecord], state: IncidentState, followup: FollowUp
) -> None:
    """Queue the release notice for every channel the incident was sent to."""
    event = await followup.event(before.first_event)
    context = template_context(event, None, None, before.id) if event else {}
    context["container"] = {
        "id": before.container_id or "",
        "name": before.container_name or "",
        "image": before.image or "",
    }
    context["playbook"] = {"name": before.playbook}
    record = before.model_copy(update={"state": state})
    steps = [
        MessageStep(
            action=s.action,
            status=s.release_status or "nothing",
            detail=s.release_detail or "",
            error=s.release_detail if s.release_status == "failed" else None,
        )
        for s in released
    ]
    facts = MessageFacts(
        record=record,
        context=context,
        steps=steps,
        state=state,
        dry_run=before.dry_run,
        report=followup.report_location(record.id),
        release_command=followup.release_command(record.id)
        if state == "partially released"
        else None,
    )
    detail = await followup.notifications.for_release(facts)
    log.info("incident %s release notice: %s", before.id, detail)
