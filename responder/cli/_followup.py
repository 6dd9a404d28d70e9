"""The stores a command outside the server needs to notify, report and audit like the server does."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from responder.audit import AUDIT_FILE, AuditLog
from responder.followup import FollowUp
from responder.journal import JOURNAL_FILE, JournalReader
from responder.notifications import Notifications
from responder.outbox import Outbox
from responder.reports._writer import ReportWriter
from responder.templates import Templates

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from responder.events import Event
    from responder.incidents import Incidents
    from responder.settings import Settings

__all__ = ["offline_followup"]


@contextlib.asynccontextmanager
async def offline_followup(settings: Settings, incidents: Incidents) -> AsyncIterator[FollowUp]:
    """Audit log, outbox and report writer on the data directory; closed on exit.

    Messages are only queued here: the running server's outbox picks them up (it looks for
    messages from other processes every `notifications.poll_interval`), or the next start does.
    """
    audit = AuditLog(settings.data_dir / AUDIT_FILE)
    outbox = Outbox(settings.data_dir)
    reader = JournalReader(settings.data_dir / JOURNAL_FILE)

    async def event(event_id: str) -> Event | None:
        if not reader.path.exists():
            return None
        return await asyncio.to_thread(reader.event, event_id)

    await audit.open()
    await outbox.open()
    try:
        reports = ReportWriter(
            incidents=incidents,
            event=event,
            outbox=outbox,
            audit=audit,
            settings=settings,
        )
        yield FollowUp(
            audit=audit,
            notifications=Notifications(
                channels=settings.channels,
                outbox=outbox,
                templates=Templates(),
                audit=audit,
                data_dir=settings.data_dir,
                public_url=settings.server.public_url,
            ),
            write_report=reports.write,
            event=event,
            release_command=settings.release_command,
        )
    finally:
        await outbox.close()
        await audit.close()
        await asyncio.to_thread(reader.close)
