"""Joining: which incident each matched event opens or joins, decided for a whole batch."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from responder.incidents import Joined, JoinQuery, NewIncident, now
from responder.journal import new_event_id

if TYPE_CHECKING:
    from collections.abc import Mapping

    from responder.engine import ContainerInfo
    from responder.incidents import Dispatch
    from responder.journal import Event
    from responder.playbooks import LoadedPlaybook, Verdict

__all__ = [
    "AuditLine",
    "Matched",
    "incident_subject",
    "join_query",
    "new_incident",
    "plan_dispatch",
]


@dataclass(frozen=True)
class Matched:
    """One event, its verdicts, and the container they were reached with."""

    seq: int
    event: Event
    verdicts: list[Verdict]
    container: ContainerInfo | None


def incident_subject(event: Event, container: ContainerInfo | None) -> str:
    """What makes two alerts of one playbook the same incident.

    The container's full id when it was found; else the reference the alert gave. An alert
    with no container is about whatever it names: a Falco host event is keyed by its host and
    rule, an Alertmanager alert by its label set (what Alertmanager's fingerprint hashes), so
    two hosts, or two certificates, are two incidents, each notified.
    """
    if container is not None:
        return container.id
    if event.target is not None:
        return event.target.ref
    if event.source == "falco":
        return f"host:{event.hostname or ''}:{event.name}"
    labels = "\n".join(f"{k}={v}" for k, v in sorted(event.labels.items()))
    digest = hashlib.sha256(labels.encode("utf-8", "surrogatepass")).hexdigest()
    return f"alert:{digest[:32]}"


def join_query(loaded: LoadedPlaybook, matched: Matched, since: str) -> JoinQuery:
    """The open incident this event would join, as the store is asked for it."""
    return JoinQuery(
        playbook=loaded.name,
        subject=incident_subject(matched.event, matched.container),
        since=since,
        resolved=matched.event.status == "resolved",
    )


@dataclass(frozen=True)
class AuditLine:
    """One line dispatch writes to the audit trail: its kind and fields."""

    kind: str
    fields: dict[str, str | None]


@dataclass(frozen=True)
class _Opened:
    incident_id: str
    by_resolved: bool
    """Opened by a resolved alert: a firing one never joins it."""


@dataclass
class _Joining:
    """One batch's open-or-join decisions, made in journal order (`plan_dispatch`)."""

    known: Mapping[JoinQuery, str]
    since: Mapping[str, str]
    changes: Dispatch
    here: dict[tuple[str, str], _Opened] = field(default_factory=dict)
    """Incidents opened earlier in this batch, by (playbook, subject)."""

    def open_or_join(self, item: Matched, loaded: LoadedPlaybook) -> AuditLine:
        """Join the open incident of this playbook and subject, or open one; its audit line."""
        event = item.event
        query = join_query(loaded, item, self.since[loaded.name])
        subject = query.subject or ""
        opened = self.here.get((loaded.name, subject))
        if opened is not None and (query.resolved or not opened.by_resolved):
            existing: str | None = opened.incident_id
        else:
            existing = self.known.get(query)
        if existing is not None:
            self.changes.joined.append(Joined(existing, event.id, event.received_at.isoformat()))
            fields: dict[str, str | None] = {
                "incident": existing,
                "event": event.id,
                "playbook": loaded.name,
            }
            return AuditLine("incident.joined", fields)
        incident = new_incident(loaded, item, subject)
        self.here[(loaded.name, subject)] = _Opened(incident.id, query.resolved)
        self.changes.opened.append(incident)
        self.changes.sources[loaded.digest] = loaded.source
        return AuditLine(
            "incident.opened",
            {
                "incident": incident.id,
                "event": event.id,
                "playbook": loaded.name,
                "playbook_digest": loaded.digest,
                "target": incident.target,
            },
        )


def plan_dispatch(
    matched: list[Matched],
    known: Mapping[JoinQuery, str],
    since: Mapping[str, str],
    changes: Dispatch,
) -> list[AuditLine]:
    """Open or join an incident for every matching playbook of every event, in journal order.

    `known` holds the open incident each query joins from before this batch; incidents opened
    earlier in the batch are joined the same way: a firing alert never joins an incident a
    resolved alert opened. Fills `changes`; returns the audit lines.
    """
    joining = _Joining(known, since, changes)
    return [
        joining.open_or_join(item, verdict.playbook)
        for item in matched
        for verdict in item.verdicts
        if verdict.matched
    ]


def new_incident(loaded: LoadedPlaybook, item: Matched, subject: str) -> NewIncident:
    """The columns of the incident this event opens for this playbook."""
    event, container = item.event, item.container
    seen = event.received_at.isoformat()
    target = event.target
    return NewIncident(
        id=new_event_id(),
        playbook=loaded.name,
        playbook_digest=loaded.digest,
        playbook_file=loaded.where,
        target=container.id if container else (target.ref if target else None),
        subject=subject,
        opened_resolved=event.status == "resolved",
        container_id=container.id if container else (target.id if target else None),
        container_name=container.name if container else (target.name if target else None),
        image=container.image if container else None,
        dry_run=loaded.playbook.dry_run,
        event_source=event.source,
        event_name=event.name,
        priority=event.priority.label,
        first_event=event.id,
        first_seen=seen,
        last_seen=seen,
        opened_at=now(),
    )
