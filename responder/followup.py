"""What follows an incident's steps and its release: notices, the report, and the audit lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from responder.audit import AuditLog
    from responder.events import Event
    from responder.notifications import Notifications

__all__ = ["FollowUp"]


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
