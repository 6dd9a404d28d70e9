r"""What a notification says, rendered once when it is queued and stored as it is in the outbox.

Each notifier turns a `Message` into its own wire format (a Slack payload, a PagerDuty event,
a mail) when it sends it. Secrets are never part of a message: they are read at delivery time.
Every field but `text` is one line, whoever built the message: a line break or control in one is
kept as a visible escape (`\n`), so no channel shows it as a line of its own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from responder.text import escape_controls

__all__ = ["Message", "MessageKind", "MessageStep"]

MessageKind = Literal["incident", "release", "notice"]
"""incident: what fired and what was done (PagerDuty: trigger); release: the containment was
undone (PagerDuty: resolve); notice: the responder itself could not do its job for an event
(an event quarantined), sent to every channel (PagerDuty: trigger)."""


class MessageStep(BaseModel):
    """One step of the incident as the message reports it."""

    model_config = ConfigDict(frozen=True)

    action: str
    status: str
    """done, already, would, skipped, failed, not run; for a release: restored, failed, ..."""
    detail: str
    error: str | None = None

    @field_validator("action", "status", "detail", "error")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return None if value is None else escape_controls(value)


_ONE_LINE = (
    "incident_id",
    "title",
    "priority",
    "state",
    "playbook",
    "event_source",
    "event_name",
    "event_time",
    "host",
    "container",
    "container_id",
    "image",
    "report",
    "release_command",
    "audit_head",
    "created_at",
)


class Message(BaseModel):
    """One notification to one channel, as queued."""

    model_config = ConfigDict(frozen=True)

    kind: MessageKind
    incident_id: str
    title: str
    """One line, no line breaks: subject of a mail, summary of a PagerDuty event."""
    text: str
    """The body as plain text, rendered from the channel's template or the default."""
    priority: str
    """The triggering event's priority, on Falco's scale (`Critical`)."""
    state: str
    """The incident's state when the message was written (contained, dry-run, released, ...)."""
    dry_run: bool
    playbook: str
    event_source: str
    event_name: str
    event_time: str
    host: str | None = None
    container: str | None = None
    """Container name (or the reference the event gave when the container is gone)."""
    container_id: str | None = None
    image: str | None = None
    event_count: int = 1
    steps: tuple[MessageStep, ...] = ()
    failed: tuple[str, ...] = ()
    """One line per step that failed."""
    report: str | None = None
    """URL of the report when `server.public_url` is set, else its path on the responder host."""
    release_command: str | None = None
    """The exact command that undoes the containment; None when nothing was changed."""
    audit_head: str | None = None
    """The audit trail's last line when the message was queued (`seq N, HASH`): a copy of it
    in on-call's hands, off the host, that `responder audit verify --expect-head` checks."""
    created_at: str

    @field_validator(*_ONE_LINE)
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return None if value is None else escape_controls(value)

    @field_validator("failed")
    @classmethod
    def _lines(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(escape_controls(line) for line in value)

    def facts(self) -> list[tuple[str, str]]:
        """Label and value pairs for notifiers that show a table (Slack fields, Teams facts)."""
        rows = [
            ("State", self.state + (" (dry-run: nothing was changed)" if self.dry_run else "")),
            ("Event", f"{self.priority}: {self.event_name} ({self.event_source})"),
            ("Host", self.host or "unknown"),
            ("Container", self.container or "none"),
        ]
        if self.image:
            rows.append(("Image", self.image))
        rows.append(("Playbook", self.playbook))
        rows.append(("Events", str(self.event_count)))
        if self.report:
            rows.append(("Report", self.report))
        if self.release_command:
            rows.append(("Release", self.release_command))
        if self.audit_head:
            rows.append(("Audit head", self.audit_head))
        return rows
