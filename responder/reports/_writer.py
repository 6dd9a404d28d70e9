"""Writing an incident's report when its steps are done and again after release."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from responder.reports._collect import collect_report
from responder.reports._files import write_report

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from responder.audit import AuditLog
    from responder.events import Event
    from responder.incidents import Incidents
    from responder.outbox import Outbox, OutboxRecord
    from responder.settings import Settings

__all__ = ["ReportWriter"]

log = logging.getLogger(__name__)


class ReportWriter:
    """Gathers the incident from the stores and writes Markdown, JSON and HTML side by side."""

    def __init__(
        self,
        *,
        incidents: Incidents,
        event: Callable[[str], Awaitable[Event | None]],
        outbox: Outbox,
        audit: AuditLog,
        settings: Settings,
    ) -> None:
        self._incidents = incidents
        self._event = event
        self._outbox = outbox
        self._audit = audit
        self._settings = settings

    async def _notifications(self, incident_id: str) -> list[OutboxRecord]:
        return await self._outbox.run(lambda store: store.for_incident(incident_id))

    async def write(self, incident_id: str) -> None:
        """Write the report; a fault is logged, never raised: the incident itself is recorded."""
        try:
            report = await collect_report(
                incident_id,
                incidents=self._incidents,
                event=self._event,
                outbox_records=self._notifications,
                data_dir=self._settings.data_dir,
                public_url=self._settings.server.public_url,
                release_command=self._settings.release_command(incident_id),
            )
            if report is None:
                return
            paths = await asyncio.to_thread(write_report, report, self._settings.data_dir)
        except Exception:
            log.exception("the report of incident %s could not be written", incident_id)
            return
        self._audit.record(
            "report.written",
            incident=incident_id,
            state=report.state,
            files=[str(path) for path in paths],
        )
