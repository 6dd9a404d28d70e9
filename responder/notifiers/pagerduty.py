"""The `pagerduty` channel: Events API v2, trigger on an incident and resolve on its release."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from responder.channels import PagerDutyChannel
from responder.events import Priority
from responder.notifiers._base import Notifier
from responder.notifiers._describe import describe_channel
from responder.notifiers._http import json_body, post_json

if TYPE_CHECKING:
    import aiohttp

    from responder.notifiers._base import Delivery
    from responder.notifiers._message import Message

__all__ = ["PagerDutyNotifier", "dedup_key", "pagerduty_event"]

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
