"""The post-incident report as one frozen model, built from the stored incident and its events."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from responder import __version__
from responder.reports._checklist import Facts, checklist
from responder.reports._parts import (
    AuditHead,
    ChecklistPhase,
    EvidenceFile,
    EvidenceSection,
    IncidentSummary,
    Manifest,
    NotificationLine,
    PlaybookSection,
    ReleasedStep,
    ReleaseLine,
    ReleaseSection,
    ReportPart,
    TargetSection,
    TimelineStep,
    TriggerSection,
)
from responder.reports._paths import report_location

if TYPE_CHECKING:
    from collections.abc import Sequence

    from responder.incidents import IncidentRecord, ReleaseAttempt, StepRecord
    from responder.journal import Event
    from responder.notifications.outbox import OutboxRecord

__all__ = ["SCHEMA_VERSION", "Report", "build_report"]

SCHEMA_VERSION = 1
"""Raised when a field is renamed or removed; new fields do not change it."""

_OUTCOMES = {
    "running": "The steps are still running: this report is provisional.",
    "contained": "Every step succeeded: the container is contained.",
    "partially contained": "A step failed after another changed the container: "
    "containment is incomplete.",
    "failed": "A step failed before anything was changed: the container is NOT contained.",
    "notified": "Nothing was done to a container: the playbook only notified.",
    "dry-run": "Dry-run: nothing was changed.",
    "protected": "The target is protected: nothing was done to it.",
    "held": "The containment limit was reached: on-call was notified, nothing was contained.",
    "resolved": "The alert was resolved: containment never started.",
    "released": "The containment was undone by release.",
    "partially released": "Release could not undo everything: see the timeline.",
}
_DRY_RUN = (
    "Dry-run: nothing was changed on any container. Steps marked 'would' say what a live "
    "run would have done."
)


class Report(ReportPart):
    """Everything a post-incident review needs, in the order a person reads it."""

    schema_version: int = SCHEMA_VERSION
    generated_at: str
    generated_by: str
    url: str | None
    """The HTML report's address when the responder has a public URL."""
    incident: IncidentSummary
    target: TargetSection
    trigger: TriggerSection
    playbook: PlaybookSection
    timeline: tuple[TimelineStep, ...]
    evidence: EvidenceSection
    notifications: tuple[NotificationLine, ...]
    release: ReleaseSection
    checklist: tuple[ChecklistPhase, ...]
    audit_head: AuditHead | None = None
    """The audit trail's head when the report was made (None: no audit line yet)."""

    @property
    def state(self) -> str:
        """The incident's state (a shortcut for `incident.state`)."""
        return self.incident.state


# Long on purpose: it builds each section once, then the report of them, one field per line
# in the order the report shows them.
def build_report(
    record: IncidentRecord,
    first_event: Event | None,
    notifications: Sequence[OutboxRecord],
    *,
    playbook_source: str | None,
    data_dir: Path,
    public_url: str | None = None,
    release_command: str | None = None,
    audit_head: tuple[int, str] | None = None,
) -> Report:
    """The report of one incident as it stands now; pure, apart from reading the clock."""
    undoable = not record.dry_run and any(step.left_a_change() for step in record.steps)
    changed = undoable or (
        not record.dry_run and record.state in {"contained", "partially contained"}
    )
    trigger = _trigger(record, first_event)
    timeline = tuple(_step(step) for step in record.steps)
    evidence = _evidence(record, data_dir / "evidence" / record.id)
    lines = tuple(_notification(n) for n in notifications)
    release = ReleaseSection(
        command=release_command or record.release_command(),
        needed=undoable,
        state=_release_state(record),
        released_at=record.released_at,
        attempts=tuple(_attempt(attempt) for attempt in record.releases),
    )
    facts = Facts(
        record,
        trigger=trigger,
        timeline=timeline,
        evidence=evidence,
        notifications=lines,
        release=release,
        changed=changed,
        report_at=report_location(record.id, data_dir, public_url),
    )
    return Report(
        generated_at=datetime.now(UTC).isoformat(),
        generated_by=f"responder {__version__}",
        url=report_location(record.id, data_dir, public_url) if public_url else None,
        incident=_summary(record, changed=changed),
        target=TargetSection(
            target=record.target,
            container_id=record.container_id,
            container_name=record.container_name,
            image=record.image,
        ),
        trigger=trigger,
        playbook=_playbook(record, playbook_source),
        timeline=timeline,
        evidence=evidence,
        notifications=lines,
        release=release,
        checklist=checklist(facts),
        audit_head=AuditHead(seq=audit_head[0], hash=audit_head[1]) if audit_head else None,
    )


def _release_state(record: IncidentRecord) -> str:
    """Where release stands: not released, released or partially released."""
    if record.released_at is None:
        return "not released"
    return record.state if record.state in {"released", "partially released"} else "released"


def _attempt(attempt: ReleaseAttempt) -> ReleaseLine:
    """One release as the report lists it: when, who asked, the result, each step's outcome."""
    return ReleaseLine(
        number=attempt.number,
        at=attempt.at,
        requested_by=attempt.requested_by,
        state=attempt.state,
        steps=tuple(
            ReleasedStep(index=s.index, action=s.action, status=s.status, detail=s.detail)
            for s in attempt.steps
        ),
    )


def _summary(record: IncidentRecord, *, changed: bool) -> IncidentSummary:
    """The incident's final state and one sentence that says what it means."""
    outcome = _OUTCOMES.get(record.state, f"The incident is {record.state}.")
    return IncidentSummary(
        id=record.id,
        state=record.state,
        reason=record.reason,
        outcome=_DRY_RUN if record.dry_run else outcome,
        dry_run=record.dry_run,
        changed=changed,
        priority=record.priority,
        opened_at=record.opened_at,
        finished_at=record.finished_at,
        released_at=record.released_at,
    )


def _trigger(record: IncidentRecord, first_event: Event | None) -> TriggerSection:
    """The events as the incident counted them, and the first one in full."""
    return TriggerSection(
        source=record.event_source,
        name=record.event_name,
        count=record.event_count,
        first_seen=record.first_seen,
        last_seen=record.last_seen,
        first_event_id=record.first_event,
        first_event=first_event.model_dump(mode="json") if first_event else None,
    )


def _playbook(record: IncidentRecord, source: str | None) -> PlaybookSection:
    """The playbook's identity, and whether the kept source is the version that ran."""
    matches = None
    if source is not None:
        matches = hashlib.sha256(source.encode()).hexdigest() == record.playbook_digest
    return PlaybookSection(
        name=record.playbook,
        file=record.playbook_file,
        digest=record.playbook_digest,
        source=source,
        source_matches=matches,
    )


def _step(step: StepRecord) -> TimelineStep:
    """One stored step as the timeline shows it."""
    return TimelineStep(
        index=step.index,
        action=step.action,
        params=step.params,
        status=step.status,
        started_at=step.started_at,
        duration_ms=step.duration_ms,
        attempts=step.attempts,
        detail=step.detail,
        error=step.error,
        release_status=step.release_status,
        release_detail=step.release_detail,
    )


def _evidence(record: IncidentRecord, directory: Path) -> EvidenceSection:
    """Every artifact with its path, and each snapshot's manifest with its hash."""
    files: list[EvidenceFile] = []
    manifests: list[Manifest] = []
    for step in record.steps:
        path, digest = step.data.get("manifest"), step.data.get("manifest_sha256")
        # A step's files are beside its manifest: a later snapshot's are in `step-N/`.
        beside = Path(path).parent if isinstance(path, str) else directory
        files.extend(
            EvidenceFile(
                step=step.index,
                path=None if a.name.startswith("image:") else str(beside / a.name),
                **a.model_dump(),
            )
            for a in step.artifacts
        )
        if isinstance(path, str) and isinstance(digest, str):
            errors = step.data.get("errors") or []
            manifests.append(
                Manifest(
                    step=step.index,
                    path=path,
                    sha256=digest,
                    errors=tuple(
                        f"{e.get('part')}: {e.get('error')}" for e in errors if isinstance(e, dict)
                    ),
                )
            )
    return EvidenceSection(directory=str(directory), files=tuple(files), manifests=tuple(manifests))


def _notification(record: OutboxRecord) -> NotificationLine:
    """One outbox row without its message body: channel, kind and delivery state."""
    return NotificationLine(
        channel=record.channel,
        kind=record.kind,
        message=record.message.kind,
        state=record.state,
        attempts=record.attempts,
        last_error=record.last_error,
        created_at=record.created_at,
        sent_at=record.sent_at,
    )
