"""Messages to on-call: what fired, where, what was (or would be) done, what failed, how to undo it.

The text is rendered from the channel's `template` or the default below, in the same sandbox as
playbook templates: alert text is data in the context, inserted as text, never evaluated. Every
value a message prints from an alert is inert: one line (line breaks and controls shown as
escapes), links defanged, so it can neither pass for a line of ours (`Undo: ...`) nor become a
link; alert text that is multi-line by nature is shown as a quoted block (`> ` before each line).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from responder.notifications.channels import Message, MessageKind, MessageStep
from responder.text import VALUE_LIMIT, inert

if TYPE_CHECKING:
    from collections.abc import Sequence

    from responder.incidents import IncidentRecord, IncidentState, StepRecord
    from responder.text import Templates

__all__ = ["DEFAULT_TEMPLATE", "MessageFacts", "build_message"]

DEFAULT_TEMPLATE = """\
{% if incident.kind == "release" -%}
RELEASED: incident {{ incident.id }} ({{ playbook.name }}) is {{ incident.state }}.
Container: {{ container.name or target.ref or "none" }} on {{ event.hostname or "unknown host" }}
{% for step in incident.steps %}  - {{ step.action }}: {{ step.status }}: {{ step.detail }}
{% endfor -%}
{% if incident.failed %}NOT restored:
{% for line in incident.failed %}  - {{ line }}
{% endfor %}{% endif -%}
{% else -%}
{% if incident.dry_run -%}
DRY RUN: nothing was changed. This is what the playbook would do.
{% endif -%}
{{ event.priority }}: {{ event.name }} ({{ event.source }}, {{ event.time }})
Host: {{ event.hostname or "unknown" }}
Container: {{ container.name or target.ref or "none" }}\
{% if container.image %} (image {{ container.image }}){% endif %}
Playbook: {{ playbook.name }}
State: {{ incident.state }}
{% if incident.event_count > 1 %}Events: {{ incident.event_count }} \
(repeats are counted, not acted on again)
{% endif -%}
{% if incident.message %}
Note:
{{ incident.message | quoted }}
{% endif %}
{{ "Would do:" if incident.dry_run else "Done:" }}
{% for step in incident.steps %}  {{ loop.index }}. {{ step.action }}: {{ step.detail }}
{% else %}  nothing yet
{% endfor -%}
{% if incident.failed %}
FAILED:
{% for line in incident.failed %}  - {{ line }}
{% endfor %}{% endif -%}
{% if event.output %}
Alert:
{{ event.output | quoted }}
{% endif %}{% endif %}
Report: {{ incident.report }}
{% if incident.release_command -%}
Undo: {{ incident.release_command }}
{% endif -%}
{% if incident.audit_head -%}
Audit: {{ incident.audit_head }}
{% endif %}"""
"""The default text; a channel's `template` replaces it (`incident.kind` tells the two apart)."""

_TITLE_CHARS = 200


@dataclass(frozen=True)
class MessageFacts:
    """What a message is about, gathered by the runner or by release."""

    record: IncidentRecord
    context: dict[str, Any]
    """The playbook template context (event, target, container, playbook, incident)."""
    steps: Sequence[StepRecord | MessageStep]
    state: IncidentState
    """The incident's state as the message tells it (`running` while containment is ahead)."""
    dry_run: bool
    report: str
    release_command: str | None
    note: str | None = None
    """The notify step's own `message`, if it gave one."""
    audit_head: tuple[int, str] | None = None
    """The audit trail's head when the message is queued (seq, hash), if it has a line."""

    @property
    def audit_line(self) -> str | None:
        """The head as messages print it: `seq 42, 3f9a...` (the whole hash)."""
        return f"seq {self.audit_head[0]}, {self.audit_head[1]}" if self.audit_head else None

    def message_steps(self) -> list[MessageStep]:
        """The steps as messages show them."""
        return [s if isinstance(s, MessageStep) else _message_step(s) for s in self.steps]


def _message_step(step: StepRecord) -> MessageStep:
    return MessageStep(action=step.action, status=step.status, detail=step.detail, error=step.error)


def _one_line(text: str) -> str:
    """Alert text as a message field: one line, no link (notifiers print fields as they are)."""
    return inert(text, VALUE_LIMIT)


def _inert(text: str | None) -> str | None:
    return None if text is None else _one_line(text)


def _inert_step(step: MessageStep) -> MessageStep:
    """Step details and errors quote container names and daemon answers: as inert as the title.

    Not cut here: the template cuts what it prints.
    """
    return MessageStep(
        action=inert(step.action),
        status=inert(step.status),
        detail=inert(step.detail),
        error=None if step.error is None else inert(step.error),
    )


# Long on purpose: the template context and the Message are one field per line, each made
# inert where it is set, so that a reader sees what every field of a message holds.
def build_message(
    kind: MessageKind, facts: MessageFacts, templates: Templates, template: str | None
) -> Message:
    """Render one message; `template` is the channel's own, or None for the default."""
    record = facts.record
    steps = [_inert_step(step) for step in facts.message_steps()]
    failed = tuple(f"{s.action}: {s.error or s.detail}" for s in steps if s.status == "failed")
    event = facts.context.get("event", {})
    container = facts.context.get("container", {})
    incident = {
        "id": record.id,
        "kind": kind,
        "state": facts.state,
        "dry_run": facts.dry_run,
        "event_count": record.event_count,
        "first_seen": record.first_seen,
        "last_seen": record.last_seen,
        "steps": [s.model_dump() for s in steps],
        "failed": list(failed),
        "report": facts.report,
        "release_command": facts.release_command or "",
        "message": facts.note or "",
        "audit_head": facts.audit_line or "",
    }
    # A container that is gone (or a host event) leaves the live view empty: the incident
    # still knows what the event named.
    fallback: dict[str, dict[str, Any]] = {
        "event": {"name": record.event_name, "priority": record.priority},
        "target": {"ref": record.target or ""},
        "container": {
            "id": record.container_id or "",
            "name": record.container_name or "",
            "image": record.image or "",
        },
        "playbook": {"name": record.playbook},
    }
    context = {
        **facts.context,
        **{k: v for k, v in fallback.items() if not facts.context.get(k)},
        "incident": incident,
    }
    text = templates.render_message(template or DEFAULT_TEMPLATE, context, _ours(facts, context))
    where = _one_line(
        container.get("name") or record.container_name or record.target or "no container"
    )
    host = _inert(event.get("hostname") or None)
    return Message(
        kind=kind,
        incident_id=record.id,
        title=_title(kind, facts, record, where, host),
        text=text.strip() + "\n",
        priority=record.priority,
        state=facts.state,
        dry_run=facts.dry_run,
        playbook=record.playbook,
        event_source=_one_line(record.event_source),
        event_name=_one_line(record.event_name),
        event_time=_one_line(str(event.get("time") or record.first_seen)),
        host=host,
        container=where,
        container_id=_inert(record.container_id),
        image=_inert(container.get("image") or record.image),
        event_count=record.event_count,
        steps=tuple(steps),
        failed=failed,
        report=facts.report,
        release_command=facts.release_command,
        audit_head=facts.audit_line,
        created_at=datetime.now(UTC).isoformat(),
    )


def _ours(facts: MessageFacts, context: dict[str, Any]) -> set[str]:
    """What the responder wrote itself, which a message prints as it is.

    The report's URL stays a link, the release command a command, the operator's playbook name
    and description their own text.
    """
    playbook = context.get("playbook", {})
    values = {facts.record.id, facts.report, facts.release_command or "", facts.audit_line or ""}
    values |= {str(playbook.get("name") or ""), str(playbook.get("description") or "")}
    return values - {""}


def _title(
    kind: MessageKind, facts: MessageFacts, record: IncidentRecord, where: str, host: str | None
) -> str:
    on = f" on {host}" if host else ""
    if kind == "release":
        title = f"[{facts.state.upper()}] {_one_line(record.event_name)}: {where}{on}"
    else:
        # A dry run says so first; its state adds nothing when it is "dry-run" itself.
        tags = ["DRY-RUN"] if facts.dry_run else []
        if facts.state != "dry-run":
            tags.append(facts.state.upper())
        head = " ".join(f"[{tag}]" for tag in tags)
        title = f"{head} {record.priority}: {_one_line(record.event_name)}: {where}{on}"
    title = " ".join(title.split())
    return title if len(title) <= _TITLE_CHARS else title[: _TITLE_CHARS - 1] + "…"
