"""Writing an incident's report when its steps are done and again after release."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from responder.reports._collect import collect_report
from responder.reports._files import write_report

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from responder.audit import AuditLog
    from responder.incidents import Incidents
    from responder.journal import Event
    from responder.notifications.outbox import Outbox, OutboxRecord
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
        # One write at a time per incident, each gathering the stores afresh inside the lock:
        # the file last written is never older than one written before it.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def _notifications(self, incident_id: str) -> list[OutboxRecord]:
        return await self._outbox.run(lambda store: store.for_incident(incident_id))

    async def after_delivery(self, incident_id: str) -> None:
        """Rewrite a finished incident's report once a message is sent or given up.

        A running incident's report is written when its steps finish, which is soon.
        """
        record = await self._incidents.run(lambda store: store.get(incident_id))
        if record is not None and record.state != "running":
            await self.write(incident_id, audit=False)

    async def write(self, incident_id: str, *, audit: bool = True) -> None:
        """Write the report; a fault is logged, never raised: the incident itself is recorded."""
        async with self._locks[incident_id]:  # one small lock per incident ever reported
            await self._write(incident_id, audit=audit)

    async def _write(self, incident_id: str, *, audit: bool) -> None:
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
        if not audit:  # a delivery update: the decision that matters is already audited
            return
        self._audit.record(
            "report.written",
            incident=incident_id,
            state=report.state,
            files=[str(path) for path in paths],
        )
