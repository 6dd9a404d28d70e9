"""Gathering a report fresh from the stores: the incident, its first event, its notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING

from responder.reports._model import build_report

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from responder.incidents import Incidents
    from responder.journal import Event
    from responder.notifications.outbox import OutboxRecord
    from responder.reports._model import Report

__all__ = ["collect_report"]


async def collect_report(
    incident_id: str,
    *,
    incidents: Incidents,
    event: Callable[[str], Awaitable[Event | None]],
    outbox_records: Callable[[str], Awaitable[list[OutboxRecord]]] | None,
    data_dir: Path,
    public_url: str | None,
    release_command: str | None = None,
) -> Report | None:
    """The incident's report as of now, or None for an unknown incident.

    `event` finds a journaled event by id (`Journal.event` in the server, a read-only reader
    in the CLI); `outbox_records` lists an incident's notifications (None: there is no outbox).
    Delivery states and release results are read at call time, so a report fetched later
    shows what has happened since the incident finished.
    """
    record = await incidents.run(lambda store: store.get(incident_id))
    if record is None:
        return None
    digest = record.playbook_digest
    source = await incidents.run(lambda store: store.playbook_source(digest))
    first_event = await event(record.first_event)
    notifications = await outbox_records(incident_id) if outbox_records else []
    audit_head = await incidents.run(lambda store: store.audit_head())
    return build_report(
        record,
        first_event,
        notifications,
        playbook_source=source,
        data_dir=data_dir,
        public_url=public_url,
        release_command=release_command,
        audit_head=audit_head,
    )
