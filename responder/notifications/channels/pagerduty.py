"""The `pagerduty` channel: Events API v2, trigger on an incident and resolve on its release."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from responder.journal import Priority
from responder.notifications.channels._base import Notifier
from responder.notifications.channels._channel import ChannelSettings
from responder.notifications.channels._describe import describe_channel
from responder.notifications.channels._fields import HttpUrlText, PriorityLevel
from responder.notifications.channels._http import json_body, post_json
from responder.secrets import SecretRef

if TYPE_CHECKING:
    import aiohttp

    from responder.notifications.channels._base import Delivery
    from responder.notifications.channels._message import Message

__all__ = ["PagerDutyChannel", "PagerDutyNotifier", "dedup_key", "pagerduty_event"]

PagerDutySeverity = Literal["critical", "error", "warning", "info"]
_PAGERDUTY_DEFAULT: dict[Priority, PagerDutySeverity] = {
    Priority.EMERGENCY: "critical",
    Priority.ALERT: "critical",
    Priority.CRITICAL: "critical",
    Priority.ERROR: "error",
    Priority.WARNING: "warning",
    Priority.NOTICE: "info",
    Priority.INFORMATIONAL: "info",
    Priority.DEBUG: "info",
}


class PagerDutyChannel(ChannelSettings):
    """PagerDuty Events API v2: trigger on an incident, resolve when it is released."""

    kind: Literal["pagerduty"] = "pagerduty"
    routing_key: SecretRef = Field(description="the integration (routing) key, by reference")
    url: HttpUrlText = Field(
        default="https://events.pagerduty.com/v2/enqueue", description="Events API v2 endpoint"
    )
    severity_map: dict[PriorityLevel, PagerDutySeverity] = Field(
        default_factory=dict, description="Falco priority -> PagerDuty severity, over the default"
    )

    def severity(self, priority: Priority) -> PagerDutySeverity:
        """The PagerDuty severity for an event of this priority."""
        return self.severity_map.get(priority, _PAGERDUTY_DEFAULT[priority])


SUMMARY_LIMIT = 1024  # PagerDuty refuses a longer summary
# A label that does not parse still pages, at a middle severity rather than not at all.
_FALLBACK = Priority.WARNING


def dedup_key(message: Message) -> str:
    """One PagerDuty alert per incident: the release resolves what the incident triggered."""
    return f"responder-{message.incident_id}"


def pagerduty_event(
    message: Message, channel: PagerDutyChannel, routing_key: str
) -> dict[str, Any]:
    """The Events API v2 body: `trigger` with a payload for an incident, `resolve` for a release."""
    event: dict[str, Any] = {"routing_key": routing_key, "dedup_key": dedup_key(message)}
    if message.kind == "release" and message.state == "released":
        return event | {"event_action": "resolve"}
    # Anything else, a partial release included, (re)triggers: the alert stays open while
    # some containment could not be undone, and its log shows the latest message.
    try:
        priority = Priority.parse(message.priority)
    except ValueError:
        priority = _FALLBACK
    summary = message.title
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 1] + "…"
    payload: dict[str, Any] = {
        "summary": summary,
        "source": message.host or message.container or "responder",
        "severity": channel.severity(priority),
        "timestamp": message.event_time or None,
        "component": message.container,
        "group": message.playbook,
        "class": message.event_name,
        "custom_details": _details(message),
    }
    event |= {
        "event_action": "trigger",
        "payload": {key: value for key, value in payload.items() if value is not None},
        "client": "responder",
    }
    if message.report and message.report.startswith(("https://", "http://")):
        event["links"] = [{"href": message.report, "text": "Incident report"}]
    return event


def _details(message: Message) -> dict[str, Any]:
    """What the responder did, for the alert's details pane; unset values are left out."""
    details: dict[str, Any] = {
        "incident_id": message.incident_id,
        "state": message.state,
        "dry_run": message.dry_run,
        "priority": message.priority,
        "event_source": message.event_source,
        "event_count": message.event_count,
        "container_id": message.container_id,
        "image": message.image,
        "steps": [step.model_dump(mode="json", exclude_none=True) for step in message.steps],
        "failed": list(message.failed),
        "report": message.report,
        "release_command": message.release_command,
        "audit_head": message.audit_head,
        "text": message.text,
    }
    return {key: value for key, value in details.items() if value not in (None, [])}


class PagerDutyNotifier(Notifier[PagerDutyChannel]):
    """POST an event; PagerDuty answers 202 and drops a repeat with the same dedup key."""

    kind: ClassVar[str] = "pagerduty"

    async def send(
        self, message: Message, delivery: Delivery, session: aiohttp.ClientSession
    ) -> str:
        """Trigger or resolve; the detail names the dedup key."""
        del delivery  # the dedup key, per incident, is PagerDuty's idempotency key
        key = self.channel.routing_key.resolve(self._environ).get_secret_value().strip()
        body = json_body(pagerduty_event(message, self.channel, key))
        timeout = self.channel.timeout.total_seconds()
        status = await post_json(
            session, self.channel.url, body, {}, timeout, display=self.name, secrets=[key]
        )
        return f"{status} ({message.kind}, dedup_key {dedup_key(message)})"

    def describe(self) -> dict[str, str]:
        """Every setting; the routing key by reference."""
        return describe_channel(self.channel, self._environ)
