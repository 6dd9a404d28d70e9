"""The intake endpoints: parse, normalise (`intake.bodies`), journal, and only then answer 202."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from responder.errors import InputError, JournalUnavailableError
from responder.intake.bodies import normalise
from responder.intake.body import read_json_object
from responder.web.state import JOURNAL, METRICS, SETTINGS

if TYPE_CHECKING:
    from responder.journal import Source

__all__ = ["INTAKE_PATHS", "routes"]

log = logging.getLogger(__name__)

INTAKE_PATHS: dict[str, Source] = {
    "/v1/events/falco": "falco",
    "/v1/events/alertmanager": "alertmanager",
}


async def _intake(request: web.Request, source: Source) -> web.Response:
    settings, metrics = request.app[SETTINGS], request.app[METRICS]
    try:
        raw, body = await read_json_object(
            request,
            limit=settings.server.max_body_bytes,
            read_timeout=settings.server.body_timeout,
        )
        events = normalise(source, body, datetime.now(UTC), settings.targets, raw)
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
    return await _intake(request, "falco")


async def alertmanager(request: web.Request) -> web.Response:
    """`POST /v1/events/alertmanager`: one webhook group, journaled as one event per alert."""
    return await _intake(request, "alertmanager")


def routes() -> list[web.RouteDef]:
    """The intake routes."""
    return [
        web.post("/v1/events/falco", falco),
        web.post("/v1/events/alertmanager", alertmanager),
    ]
