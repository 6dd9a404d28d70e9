"""Incident views (`GET /v1/incidents`, `GET /v1/incidents/{id}`) and release (its own credential)."""

from __future__ import annotations

from aiohttp import web

from responder.errors import InputError
from responder.release import release_incident
from responder.web.state import ACTIONS, ENGINE, INCIDENTS, SETTINGS, WORKER

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
            "incidents": [row.model_dump(mode="json", exclude={"steps"}) for row in rows],
            "next": next_url,
        }
    )


async def get_incident(request: web.Request) -> web.Response:
    """One incident with every step's result and timing."""
    incident_id = request.match_info["id"]
    record = await request.app[INCIDENTS].run(lambda store: store.get(incident_id))
    if record is None:
        raise InputError(404, f"no incident {incident_id!r}")
    body = record.model_dump(mode="json") | {"release_command": record.release_command()}
    return web.json_response(body)


async def release(request: web.Request) -> web.Response:
    """Undo the incident's containment; answers what was restored and what was not."""
    app = request.app
    incident_id = request.match_info["id"]
    async with app[WORKER].container_lock(incident_id):
        result = await release_incident(
            incident_id,
            incidents=app[INCIDENTS],
            engine=app[ENGINE],
            actions=app[ACTIONS],
            data_dir=app[SETTINGS].data_dir,
        )
    status = 200 if result.state == "released" else 207
    return web.json_response(result.model_dump(mode="json"), status=status)


def routes() -> list[web.RouteDef]:
    """The incident endpoints."""
    return [
        web.get("/v1/incidents", list_incidents),
        web.get(f"/v1/incidents/{_ID}", get_incident),
        web.post(f"/v1/incidents/{_ID}/release", release),
    ]
