"""Incident views (`GET /v1/incidents`, `GET /v1/incidents/{id}`) and release (its own credential)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from aiohttp import web

from responder.errors import InputError
from responder.incidents import IncidentNotFoundError
from responder.reports import FORMATS, collect_report, render
from responder.web.state import (
    ACTIONS,
    ENGINE,
    FOLLOWUP,
    INCIDENTS,
    JOURNAL,
    OUTBOX,
    SETTINGS,
    WORKER,
)
from responder.worker.release import release_incident

if TYPE_CHECKING:
    from responder.notifications.outbox import OutboxRecord
    from responder.reports import ReportFormat

__all__ = ["routes"]

_ID = "{id:[0-9A-HJKMNP-TV-Z]{26}}"
_MAX_LIMIT = 500


async def list_incidents(request: web.Request) -> web.Response:
    """Newest first; `limit` and `before` (an incident id) page through."""
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise InputError(400, "query parameter 'limit' must be an integer") from None
    if not 1 <= limit <= _MAX_LIMIT:
        raise InputError(400, f"query parameter 'limit' must be between 1 and {_MAX_LIMIT}")
    before = request.query.get("before")
    rows = await request.app[INCIDENTS].run(lambda store: store.list(limit, before))
    next_url = None
    if len(rows) == limit:
        next_url = str(request.rel_url.update_query({"before": rows[-1].id}))
    return web.json_response(
        {
            "incidents": [
                row.model_dump(mode="json", exclude={"steps", "releases"}) for row in rows
            ],
            "next": next_url,
        }
    )


async def get_incident(request: web.Request) -> web.Response:
    """One incident with every step's result and timing, and every release."""
    incident_id = request.match_info["id"]
    record = await request.app[INCIDENTS].run(lambda store: store.get(incident_id))
    if record is None:
        raise IncidentNotFoundError(incident_id)
    outbox = await request.app[OUTBOX].run(lambda store: store.for_incident(incident_id))
    body = record.model_dump(mode="json") | {
        "release_command": request.app[SETTINGS].release_command(record.id),
        "notifications": [row.delivery() for row in outbox],
    }
    return web.json_response(body)


async def release(request: web.Request) -> web.Response:
    """Undo the incident's containment; answers what was restored and what was not.

    An incident that is not there answers 404, one still running its steps 409 (the error
    middleware maps the domain's errors).
    """
    app = request.app
    incident_id = request.match_info["id"]
    async with app[WORKER].container_lock(incident_id):
        result = await release_incident(
            incident_id,
            incidents=app[INCIDENTS],
            engine=app[ENGINE],
            actions=app[ACTIONS],
            data_dir=app[SETTINGS].data_dir,
            followup=app[FOLLOWUP],
            requested_by=f"HTTP from {request.remote or 'unknown'}",
        )
    status = 200 if result.state == "released" else 207
    return web.json_response(result.model_dump(mode="json"), status=status)


_REPORT_TYPES: dict[ReportFormat, str] = {
    "json": "application/json",
    "md": "text/markdown",
    "html": "text/html",
}
_ACCEPTED: dict[str, ReportFormat] = {mime: fmt for fmt, mime in _REPORT_TYPES.items()}
_REPORT_HEADERS = {
    # The HTML report needs nothing but its inline style: no script or remote load, ever.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Vary": "Accept",
}


async def notification_records(app: web.Application, incident_id: str) -> list[OutboxRecord]:
    """The notifications queued for one incident and their delivery state, for its report."""
    return await app[OUTBOX].run(lambda store: store.for_incident(incident_id))


def _report_format(request: web.Request) -> ReportFormat:
    """`?format=` when given, else the first report type the Accept header names, else JSON."""
    asked = request.query.get("format")
    if asked is not None:
        for fmt in FORMATS:
            if fmt == asked:
                return fmt
        raise InputError(400, f"query parameter 'format' must be one of {', '.join(FORMATS)}")
    for media in request.headers.get("Accept", "").split(","):
        fmt_for_media = _ACCEPTED.get(media.partition(";")[0].strip().lower())
        if fmt_for_media is not None:
            return fmt_for_media
    return "json"


async def incident_report(request: web.Request) -> web.Response:
    """The incident's report, fresh from the stores: JSON, Markdown or self-contained HTML."""
    app = request.app
    incident_id = request.match_info["id"]
    fmt = _report_format(request)
    settings = app[SETTINGS]
    report = await collect_report(
        incident_id,
        incidents=app[INCIDENTS],
        event=app[JOURNAL].event,
        outbox_records=partial(notification_records, app),
        data_dir=settings.data_dir,
        public_url=settings.server.public_url,
        release_command=settings.release_command(incident_id),
    )
    if report is None:
        raise IncidentNotFoundError(incident_id)
    return web.Response(
        text=render(report, fmt),
        content_type=_REPORT_TYPES[fmt],
        charset="utf-8",
        headers=_REPORT_HEADERS,
    )


def routes() -> list[web.RouteDef]:
    """The incident endpoints."""
    return [
        web.get("/v1/incidents", list_incidents),
        web.get(f"/v1/incidents/{_ID}", get_incident),
        web.post(f"/v1/incidents/{_ID}/release", release),
        web.get(f"/v1/incidents/{_ID}/report", incident_report),
    ]
