"""The stores a command outside the server needs to notify, report and audit like the server does."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from responder.audit import AUDIT_FILE, AuditLog
from responder.incidents import INCIDENTS_FILE, AuditAnchor
from responder.journal import JOURNAL_FILE, JournalReader
from responder.notifications.outbox import Outbox
from responder.text import Templates
from responder.worker.followup import FollowUp, build_followup

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from responder.incidents import Incidents
    from responder.journal import Event
    from responder.settings import Settings

__all__ = ["offline_followup"]


@contextlib.asynccontextmanager
async def offline_followup(settings: Settings, incidents: Incidents) -> AsyncIterator[FollowUp]:
    """Audit log, outbox and report writer on the data directory; closed on exit.

    Messages are only queued here: the running server's outbox picks them up (it looks for
    messages from other processes every `notifications.poll_interval`), or the next start does.
    """
    anchor = AuditAnchor(settings.data_dir / INCIDENTS_FILE)
    audit = AuditLog(settings.data_dir / AUDIT_FILE, anchor=anchor, settings=settings.audit)
    outbox = Outbox(settings.data_dir)
    reader = JournalReader(settings.data_dir / JOURNAL_FILE)

    async def event(event_id: str) -> Event | None:
        if not reader.path.exists():
            return None
        return await asyncio.to_thread(reader.event, event_id)

    await audit.open()
    await outbox.open()
    try:
        followup, _ = build_followup(
            settings,
            incidents=incidents,
            outbox=outbox,
            audit=audit,
            event=event,
            templates=Templates(),
        )
        yield followup
    finally:
        await outbox.close()
        await audit.close()
        await asyncio.to_thread(anchor.close)
        await asyncio.to_thread(reader.close)
