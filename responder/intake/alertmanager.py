"""Alertmanager webhook groups (v4 and older), turned into one `Event` per alert."""

from __future__ import annotations

from datetime import datetime  # noqa: TC003 - pydantic needs it at runtime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from responder.intake._parsing import FlexibleTime, body_digest
from responder.intake.targets import labels_target
from responder.journal import Event, Priority, Status, new_event_id

if TYPE_CHECKING:
    from responder.settings import TargetRules

__all__ = ["AlertmanagerAlert", "AlertmanagerGroup", "alertmanager_events", "severity_priority"]

# Alertmanager `severity` labels onto Falco's scale; anything else is kept as a label and read
# as Warning, because an alert somebody wrote a rule for deserves attention by default.
_SEVERITIES: dict[str, Priority] = {
    "critical": Priority.CRITICAL,
    "error": Priority.ERROR,
    "warning": Priority.WARNING,
    "info": Priority.INFORMATIONAL,
    "none": Priority.INFORMATIONAL,  # kube-prometheus's Watchdog and InfoInhibitor
}
_DEFAULT_PRIORITY = Priority.WARNING
_HOST_LABELS = ("hostname", "host", "nodename")


class AlertmanagerAlert(BaseModel):
    """One alert of a group; `status`, `fingerprint` and `generatorURL` may be missing."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: Literal["firing", "resolved"] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: FlexibleTime = Field(default=None, alias="startsAt")
    ends_at: FlexibleTime = Field(default=None, alias="endsAt")
    generator_url: str | None = Field(default=None, alias="generatorURL")
    fingerprint: str | None = Field(default=None, max_length=256)


class AlertmanagerGroup(BaseModel):
    """The webhook body; `version` is absent in groups from old Alertmanagers."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str | None = None
    status: Literal["firing", "resolved"] | None = None
    receiver: str | None = None
    group_key: str | None = Field(default=None, alias="groupKey")
    external_url: str | None = Field(default=None, alias="externalURL")
    alerts: list[AlertmanagerAlert] = Field(min_length=1, max_length=10_000)


def severity_priority(labels: dict[str, str]) -> Priority:
    """Map the `severity` label; Falco level names are accepted too."""
    severity = labels.get("severity", "").strip().lower()
    if severity in _SEVERITIES:
        return _SEVERITIES[severity]
    try:
        return Priority.parse(severity)
    except ValueError:
        return _DEFAULT_PRIORITY


def _identity(alert: AlertmanagerAlert) -> str:
    if alert.fingerprint:
        return alert.fingerprint
    return body_digest(dict[str, JsonValue](alert.labels))


def _group_context(group: AlertmanagerGroup) -> dict[str, JsonValue]:
    return {
        "receiver": group.receiver,
        "groupKey": group.group_key,
        "externalURL": group.external_url,
        "version": group.version,
    }


def alertmanager_events(
    group: AlertmanagerGroup,
    body: dict[str, JsonValue],
    received_at: datetime,
    rules: TargetRules,
) -> list[Event]:
    """One event per alert, each with its own status (the group's is only a summary)."""
    raw_alerts = body.get("alerts")
    assert isinstance(raw_alerts, list)  # noqa: S101 - validated by AlertmanagerGroup just before
    context = _group_context(group)
    events = []
    for alert, raw in zip(group.alerts, raw_alerts, strict=True):
        status: Status = alert.status or group.status or "firing"
        starts = alert.starts_at.isoformat() if alert.starts_at else ""
        time = (alert.ends_at if status == "resolved" else None) or alert.starts_at or received_at
        events.append(
            Event.model_construct(  # validated just above; see falco_event
                id=new_event_id(),
                key=f"alertmanager:{_identity(alert)}:{status}:{starts}",
                source="alertmanager",
                name=alert.labels.get("alertname", ""),
                priority=severity_priority(alert.labels),
                status=status,
                time=time,
                received_at=received_at,
                hostname=next((alert.labels[k] for k in _HOST_LABELS if alert.labels.get(k)), None),
                labels=alert.labels,
                annotations=alert.annotations,
                output=alert.annotations.get("summary") or alert.annotations.get("description", ""),
                target=labels_target(alert.labels, rules),
                raw={"alert": raw, "group": context},
            )
        )
    return events
