"""The one table of normalisers: a sender's body into the events intake journals.

The intake routes (`responder/web/intake.py`) and the readers of a stored or recorded body
(`responder plan`, `responder test`) go through the same table, so one body becomes the same
events either way.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from responder.intake.alertmanager import AlertmanagerGroup, alertmanager_events
from responder.intake.body import check_nesting, validate
from responder.intake.falco import FalcoPayload, falco_event

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from pydantic import JsonValue

    from responder.journal import Event, Source
    from responder.settings import TargetRules

__all__ = ["NORMALISERS", "Normaliser", "body_kind", "events_from_body", "normalise"]


class Normaliser(Protocol):
    """Turns one sender's body into events (InputError 422 when it is not that sender's)."""

    def __call__(
        self,
        body: dict[str, JsonValue],
        received_at: datetime,
        rules: TargetRules,
        raw: bytes | None,
    ) -> list[Event]:
        """`raw`: the bytes as received, when known (intake); a recorded body has none."""
        ...


def _falco(
    body: dict[str, JsonValue], received_at: datetime, rules: TargetRules, raw: bytes | None
) -> list[Event]:
    """One Falco `http_output` or Falcosidekick event; its key hashes the bytes when known."""
    del rules  # Falco names its container in its own fields
    return [falco_event(validate(FalcoPayload, body, "Falco event"), body, received_at, raw)]


def _alertmanager(
    body: dict[str, JsonValue], received_at: datetime, rules: TargetRules, raw: bytes | None
) -> list[Event]:
    """One event per alert of an Alertmanager webhook group."""
    del raw  # each alert is keyed by its own fingerprint and times
    group = validate(AlertmanagerGroup, body, "Alertmanager webhook group")
    return alertmanager_events(group, body, received_at, rules)


NORMALISERS: Mapping[Source, Normaliser] = MappingProxyType(
    {"falco": _falco, "alertmanager": _alertmanager}
)
"""Each source's normaliser."""


def normalise(
    source: Source,
    body: dict[str, JsonValue],
    received_at: datetime,
    rules: TargetRules,
    raw: bytes | None = None,
) -> list[Event]:
    """The events intake journals for a body from `source`; InputError (422) if it is not one."""
    return NORMALISERS[source](body, received_at, rules, raw)


def body_kind(body: dict[str, JsonValue]) -> Source:
    """`alertmanager` for a webhook group (it has `alerts`), else `falco`."""
    return "alertmanager" if "alerts" in body else "falco"


def events_from_body(
    body: dict[str, JsonValue], received_at: datetime, rules: TargetRules
) -> list[Event]:
    """The events intake would journal for a stored or recorded body of either kind.

    InputError (422) if it is neither kind, or nests deeper than intake accepts.
    """
    check_nesting(body)
    return normalise(body_kind(body), body, received_at, rules)
