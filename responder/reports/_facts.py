"""What the checklist is written from, and how one item is made."""

from __future__ import annotations

from typing import TYPE_CHECKING

from responder.reports._parts import ChecklistItem

if TYPE_CHECKING:
    from collections.abc import Sequence

    from responder.incidents import IncidentRecord
    from responder.reports._parts import (
        EvidenceSection,
        NotificationLine,
        ReleaseSection,
        TimelineStep,
        TriggerSection,
    )

__all__ = ["Facts", "item"]


class Facts:
    """What the checklist is written from: the incident and the report's other sections."""

    def __init__(
        self,
        record: IncidentRecord,
        *,
        trigger: TriggerSection,
        timeline: Sequence[TimelineStep],
        evidence: EvidenceSection,
        notifications: Sequence[NotificationLine],
        release: ReleaseSection,
        changed: bool,
        report_at: str,
    ) -> None:
        self.record = record
        self.trigger = trigger
        self.timeline = timeline
        self.evidence = evidence
        self.notifications = notifications
        self.release = release
        self.changed = changed
        self.report_at = report_at
        """The report's URL, or its path on the responder host."""
        self.ref = record.container_id or record.container_name or record.target
        self.kinds = {f.kind: f for f in evidence.files}


def item(template: str, *values: str) -> ChecklistItem:
    """One to-do: the responder's words with a `{}` for each value."""
    return ChecklistItem(template=template, values=values)
