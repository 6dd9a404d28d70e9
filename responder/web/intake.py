"""The intake endpoints: parse, normalise, journal, and only then answer 202."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from responder.errors import InputError, JournalUnavailableError
from responder.intake.alertmanager import AlertmanagerGroup, alertmanager_events
from responder.intake.body import read_json_object, validate
from responder.intake.falco import FalcoPayload, falco_event
from responder.web.state import JOURNAL, METRICS, SETTINGS

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import JsonValue

    from responder.journal import Event, Source

__all__ = ["INTAKE_PATHS", "routes"]

log = logging.getLogger(__name__)

INTAKE_PATHS: dict[str, Source] = {
    "/v1/events/falco": "falco",
    "/v1/events/alertmanager": "alertmanager",
}


def _falco(
    raw: bytes, body: dict[str, JsonValue], request: web.Request, received: datetime
) -> list[Event]:
    del request
    return [falco_event(validate(FalcoPayload, body, "Falco event"), body, received, raw)]


def _alertmanager(
    raw: bytes, body: dict[str, JsonValue], request: web.Request, received: datetime
) -> list[Event]:
    del raw
    group = validate(AlertmanagerGroup, body, "Alertmanager webhook group")
    return alertmanager_events(group, body, received, request.app[SETTINGS].targets)


async def _intake(
    request: web.Request,
    source: Source,
    normalise: Callable[[bytes, dict[str, JsonValue], web.Request, datetime], list[Event]],
) -> web.Response:
    settings, metrics = request.app[SETTINGS], request.app[METRICS]
    try:
        raw, body = await read_json_object(
            request,
            limit=settings.server.max_body_bytes,
            read_timeout=settings.server.body_timeout,
        )
        events = normalise(raw, body, request, datetime.now(UTC))
        accepted = await request.app[JOURNAL].append(events)
    except InputError as exc:
        metrics.received(source, {413: "too_large", 408: "timeout"}.get(exc.status, "invalid"))
        raise
    except JournalUnavailableError:
        metrics.received(source, "journal_unavailable")
        raise
    new = [a for a in accepted if not a.duplicate]
    if new:
        metrics.received(source, "accepted", len(new))
    if len(new) < len(accepted):
        metrics.received(source, "duplicate", len(accepted) - len(new))
    log.debug("%s: %d accepted, %d already journaled", source, len(new), len(accepted) - len(new))
    return web.json_response(
        {
            "status": "accepted" if new else "already accepted",
            "events": [{"id": a.id, "duplicate": a.duplicate} for a in accepted],
        },
        status=202 if new else 200,
    )


async def falco(request: web.Request) -> web.Response:
    """`POST /v1/events/falco`: one Falco `http_output` or Falcosidekick event."""
    return await _intake(request, "falco", _falco)


async def alertmanager(request: web.Request) -> web.Response:
    """`POST /v1/events/alertmanager`: one webhook group, journaled as one event per alert."""
    return await _intake(request, "alertmanager", _alertmanager)


def routes() -> list[web.RouteDef]:
    """The intake routes."""
    return [
        web.post("/v1/events/falco", falco),
        web.post("/v1/events/alertmanager", alertmanager),
    ]
