"""What follows an incident's steps and its release: notices, the report, and the audit lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from responder.notifications.queue import Notifications
from responder.reports import ReportWriter, report_location

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from responder.audit import AuditLog
    from responder.incidents import Incidents
    from responder.journal import Event
    from responder.notifications.outbox import Outbox
    from responder.settings import Settings
    from responder.text import Templates

__all__ = ["FollowUp", "build_followup"]


@dataclass(frozen=True)
class FollowUp:
    """The outbox side, the report writer and the audit log, as the runner and release use them."""

    audit: AuditLog
    notifications: Notifications
    write_report: Callable[[str], Awaitable[None]]
    """Writes an incident's report (by id) under the data directory; logs its own faults."""
    event: Callable[[str], Awaitable[Event | None]]
    """Looks up a journaled event by id (the incident's first event, for messages)."""
    release_command: Callable[[str], str]
    """The exact command that releases an incident (`Settings.release_command`)."""
    report_location: Callable[[str], str]
    """Where an incident's report is, as messages show it: its URL, or its path on this host."""


def build_followup(
    settings: Settings,
    *,
    incidents: Incidents,
    outbox: Outbox,
    audit: AuditLog,
    event: Callable[[str], Awaitable[Event | None]],
    templates: Templates,
) -> tuple[FollowUp, ReportWriter]:
    """The follow-up the server and `responder release` share, and its report writer."""
    reports = ReportWriter(
        incidents=incidents, event=event, outbox=outbox, audit=audit, settings=settings
    )
    notifications = Notifications(
        channels=settings.channels,
        outbox=outbox,
        templates=templates,
        audit=audit,
    )
    followup = FollowUp(
        audit=audit,
        notifications=notifications,
        write_report=reports.write,
        event=event,
        release_command=settings.release_command,
        report_location=lambda incident_id: report_location(
            incident_id, settings.data_dir, settings.server.public_url
        ),
    )
    return followup, reports
