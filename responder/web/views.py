"""Read-only views of the journal: `GET /v1/events`, newest first, filtered and paged."""

from __future__ import annotations

import json
from typing import get_args

from aiohttp import web

from responder.errors import InputError
from responder.journal import Event, EventQuery, Source
from responder.web.state import JOURNAL

__all__ = ["routes"]

_MAX_LIMIT = 500
_SOURCES = get_args(Source)


def _int_param(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise InputError(
            400, f"query parameter {name!r} must be an integer, got {text[:32]!r}"
        ) from None
    if not low <= value <= high:
        raise InputError(400, f"query parameter {name!r} must be between {low} and {high}")
    return value


def parse_query(request: web.Request) -> EventQuery:
    """The filters and page of an events request, or a 400 that names the bad parameter."""
    source = request.query.get("source")
    if source is not None and source not in _SOURCES:
        raise InputError(400, f"query parameter 'source' must be one of {', '.join(_SOURCES)}")
    limit = _int_param(request, "limit", 50, 1, _MAX_LIMIT)
    assert limit is not None  # noqa: S101 - it has a default
    return EventQuery(
        source=source,
        name=request.query.get("name"),
        before=_int_param(request, "before", None, 1, 2**62),
        limit=limit,
    )


async def list_events(request: web.Request) -> web.Response:
    """`GET /v1/events?source=&name=&limit=&before=`: one page, with the link to the next."""
    query = parse_query(request)
    rows = await request.app[JOURNAL].events(query)
    next_url = None
    if len(rows) == query.limit:
        next_url = str(request.rel_url.update_query({"before": rows[-1].seq}))
    return web.json_response({"events": [row.to_json() for row in rows], "next": next_url})


async def get_event(request: web.Request) -> web.Response:
    """`GET /v1/events/{id}`: one event in full, as journaled.

    A body that does not read back as an event (the worker set it aside) is still shown, as
    stored, with why: a read of a journaled event never answers 5xx.
    """
    found = await request.app[JOURNAL].stored(request.match_info["id"])
    if found is None:
        raise InputError(404, f"no event with id {request.match_info['id'][:64]!r}")
    body, event = found
    if isinstance(event, Event):
        return web.Response(text=event.model_dump_json(), content_type="application/json")
    head = json.dumps({"id": event.id, "readable": False, "error": event.error})
    return web.Response(
        text=f'{head[:-1]}, "stored": {_as_json(body)}}}', content_type="application/json"
    )


def _as_json(stored: str) -> str:
    """The stored text as a JSON value: itself when it is JSON (however deep), else a string."""
    try:
        json.loads(stored)
    except RecursionError:
        return stored  # JSON the journal wrote, only deeper than Python parses: spliced in as is
    except ValueError:
        return json.dumps(stored)
    return stored


def routes() -> list[web.RouteDef]:
    """The read-only event views."""
    return [
        web.get("/v1/events", list_events),
        web.get("/v1/events/{id:[0-9A-HJKMNP-TV-Z]{26}}", get_event),
    ]
