"""A recorded body of either kind turned into events, for `plan`, `test` and `replay`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from responder.intake.alertmanager import AlertmanagerGroup, alertmanager_events
from responder.intake.body import check_nesting, validate
from responder.intake.falco import FalcoPayload, falco_event

if TYPE_CHECKING:
    from datetime import datetime

    from pydantic import JsonValue

    from responder.journal import Event
    from responder.settings import TargetRules

__all__ = ["body_kind", "events_from_body"]


def body_kind(body: dict[str, JsonValue]) -> str:
    """`alertmanager` for a webhook group (it has `alerts`), else `falco`."""
    return "alertmanager" if "alerts" in body else "falco"


def events_from_body(
    body: dict[str, JsonValue], received_at: datetime, rules: TargetRules
) -> list[Event]:
    """The events intake would journal for this body; InputError (422) if it is neither kind."""
    check_nesting(body)
    if body_kind(body) == "alertmanager":
        group = validate(AlertmanagerGroup, body, "Alertmanager webhook group")
        return alertmanager_events(group, body, received_at, rules)
    return [falco_event(validate(FalcoPayload, body, "Falco event"), body, received_at)]
