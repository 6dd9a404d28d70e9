"""Falco `http_output` and Falcosidekick webhook bodies, parsed into one `Event`."""

from __future__ import annotations

import hashlib
from datetime import datetime  # noqa: TC003 - pydantic needs it at runtime

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from responder.intake._parsing import FlexibleTime, body_digest, parse_time
from responder.intake.targets import falco_target
from responder.journal import Event, PriorityName, Target, new_event_id

__all__ = ["FalcoPayload", "falco_event"]

# Where Falco puts the event time when the top-level `time` is missing.
_TIME_FIELDS = ("evt.time", "evt.time.iso8601", "evt.rawtime")


class FalcoPayload(BaseModel):
    """What Falco and Falcosidekick send; old Falco lacks source, tags and hostname."""

    model_config = ConfigDict(extra="ignore")

    rule: str = Field(min_length=1, max_length=1024)
    priority: PriorityName
    output: str | None = None
    time: FlexibleTime = None
    hostname: str | None = None
    source: str | None = None
    tags: list[str] | None = None
    output_fields: dict[str, JsonValue] | None = None
    uuid: str | None = Field(default=None, max_length=256)
    """Falcosidekick's per-event id: a re-send with the same uuid is the same event."""


def _event_time(payload: FalcoPayload, received_at: datetime) -> datetime:
    if payload.time is not None:
        return payload.time
    fields = payload.output_fields or {}
    for key in _TIME_FIELDS:
        try:
            found = parse_time(fields.get(key))
        except ValueError:
            continue
        if found is not None:
            return found
    return received_at


def falco_event(
    payload: FalcoPayload,
    body: dict[str, JsonValue],
    received_at: datetime,
    raw: bytes | None = None,
) -> Event:
    """Normalise one Falco body; its key is the Falcosidekick uuid, else a hash of the body.

    `raw`, the bytes as received, is what intake hashes: a re-send is the same bytes. Without
    it (a recorded body read by `plan`), the canonical JSON of the body is hashed instead.
    """
    fields = payload.output_fields or {}
    if payload.uuid:
        key = f"falcosidekick:{payload.uuid}"
    else:
        key = f"falco:{hashlib.sha256(raw).hexdigest() if raw is not None else body_digest(body)}"
    target: Target | None = falco_target(fields)
    # Every value below comes from the validated payload with the field's own type, so the
    # Event is built without a second validation pass (the hot path of intake).
    return Event.model_construct(
        id=new_event_id(),
        key=key,
        source="falco",
        name=payload.rule,
        priority=payload.priority,
        status="firing",
        time=_event_time(payload, received_at),
        received_at=received_at,
        hostname=payload.hostname or None,
        event_source=payload.source or None,
        tags=tuple(payload.tags or ()),
        fields=fields,
        output=payload.output or "",
        target=target,
        raw=body,
    )
