"""Queuing notifications: a `notify` step's messages, and the notice that follows a release."""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from jinja2.exceptions import SecurityError, TemplateError

from responder.incidents import now
from responder.journal import Priority, coerce_priority
from responder.notifications.channels import Message
from responder.notifications.messages import MessageFacts, build_message
from responder.notifications.outbox import NewMessage
from responder.text import inert

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from responder.audit import AuditLog
    from responder.notifications.channels import Channel, MessageKind
    from responder.notifications.outbox import Outbox
    from responder.text import Templates

__all__ = ["Notifications"]

log = logging.getLogger(__name__)
_WHY_LIMIT = 500


class Notifications:
    """Renders each channel's message and queues it in the outbox; never sends anything itself."""

    def __init__(
        self,
        *,
        channels: Mapping[str, Channel],
        outbox: Outbox,
        templates: Templates,
        audit: AuditLog,
    ) -> None:
        self._channels = channels
        self._outbox = outbox
        self._templates = templates
        self._audit = audit

    async def for_step(self, facts: MessageFacts, step_index: int, channels: Sequence[str]) -> str:
        """Queue the step's messages; one line that says where they went (or why not)."""
        record = facts.record
        priority = coerce_priority(record.priority)
        queued: list[NewMessage] = []
        notes: list[str] = []
        for name in channels:
            channel = self._channels.get(name)
            if channel is None:  # the configuration changed since the playbook was loaded
                notes.append(f"{name}: not configured")
            elif not channel.wants(priority):
                notes.append(f"{name}: below its min_priority")
            else:
                message = self._render("incident", facts, channel)
                key = f"{record.id}:step:{step_index}:{name}"
                queued.append(NewMessage(key, record.id, name, channel.kind, message))
        return await self._queue(queued, notes)

    async def for_release(self, facts: MessageFacts) -> str:
        """Tell every channel that heard about the incident that it was released."""
        record = facts.record
        earlier = await self._outbox.run(lambda store: store.for_incident(record.id))
        names = list(dict.fromkeys(r.channel for r in earlier if r.message.kind == "incident"))
        queued = []
        for name in names:
            channel = self._channels.get(name)
            if channel is None:
                continue
            key = f"{record.id}:release:{record.released_at}:{name}"
            message = self._render("release", facts, channel)
            queued.append(NewMessage(key, record.id, name, channel.kind, message))
        return await self._queue(queued, [])

    async def for_quarantine(self, event_id: str, seq: int, error: str) -> str:
        """Tell every channel that an acknowledged event was set aside and never acted on."""
        title = f"[QUARANTINED] event {event_id} was acknowledged but cannot be processed"
        text = (
            f"The responder acknowledged event {event_id} (journal seq {seq}) but cannot act "
            f"on it, so it was set aside; the events after it are processed as usual.\n"
            # The error may quote the alert (a container reference): one inert line.
            f"Why: {inert(error, _WHY_LIMIT)}\n"
            f"See it as stored: GET /v1/events/{event_id}, or `responder events`.\n"
        )
        head = self._head()
        audit = f"seq {head[0]}, {head[1]}" if head else None
        if audit:
            text += f"Audit: {audit}\n"
        message = Message(
            kind="notice",
            incident_id=event_id,
            title=title,
            text=text,
            priority=Priority.ERROR.label,
            state="quarantined",
            dry_run=False,
            playbook="-",
            event_source="responder",
            event_name="event quarantined",
            event_time=now(),
            audit_head=audit,
            created_at=now(),
        )
        queued = [
            NewMessage(f"{event_id}:quarantine:{name}", event_id, name, channel.kind, message)
            for name, channel in self._channels.items()
            if channel.wants(Priority.ERROR)
        ]
        return await self._queue(queued, [])

    def _head(self) -> tuple[int, str] | None:
        """The audit trail's last line now; a copy of it leaves the host with every message."""
        seq, head = self._audit.head
        return (seq, head) if seq else None

    def _render(self, kind: MessageKind, facts: MessageFacts, channel: Channel) -> Message:
        facts = dataclasses.replace(facts, audit_head=self._head())
        try:
            return build_message(kind, facts, self._templates, channel.template)
        except (TemplateError, SecurityError) as exc:
            # A channel template that fails at run time must not silence the page.
            log.warning("channel template failed (%s); the default message is sent instead", exc)
            return build_message(kind, facts, self._templates, None)

    async def _queue(self, queued: list[NewMessage], notes: list[str]) -> str:
        ids = await self._outbox.enqueue(queued) if queued else []
        for new, row_id in zip(queued, ids, strict=True):
            self._audit.record(
                "notification.queued",
                incident=new.incident_id,
                channel=new.channel,
                message_kind=new.message.kind,
                outbox_id=row_id,
            )
        parts = [f"{new.channel} (#{row_id})" for new, row_id in zip(queued, ids, strict=True)]
        detail = f"queued for {', '.join(parts)}" if parts else "nothing queued"
        return detail + (f"; not sent to {'; '.join(notes)}" if notes else "")
