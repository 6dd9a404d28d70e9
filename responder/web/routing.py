"""Every request finds a route of ours: `Expect` is answered here, never by aiohttp's default.

aiohttp answers an `Expect` header before any middleware runs, and its default handler builds
its 417 from the header's text: bytes that are not UTF-8 (which aiohttp keeps as lone
surrogates) cannot be encoded, and the request ends in a 500 with a traceback. Each of our
routes gets `expect_continue` instead; a path no route serves, or a method it does not take,
reaches a fallback route of ours (JSON 404 or 405) rather than aiohttp's built-in one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import HttpVersion11, hdrs, web

from responder.web.errors import error_body

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["expect_continue", "routed", "served_by_us"]


async def expect_continue(request: web.Request) -> web.StreamResponse | None:
    """`Expect: 100-continue` gets its interim answer; any other expectation a JSON 417."""
    if request.version != HttpVersion11:
        return None  # HTTP/1.0 has no Expect (RFC 9110 section 10.1.1): ignored, as aiohttp does
    if request.headers.get(hdrs.EXPECT, "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the interim answer is not part of the response's size
        return None
    return error_body(417, "unsupported Expect header: only '100-continue' is understood")


async def _method_not_allowed(request: web.Request) -> web.StreamResponse:
    allowed = {route.method for route in request.match_info.route.resource or ()}
    raise web.HTTPMethodNotAllowed(request.method, allowed - {hdrs.METH_ANY})


async def _not_found(request: web.Request) -> web.StreamResponse:
    del request
    raise web.HTTPNotFound


def served_by_us(request: web.Request) -> bool:
    """The request reached one of the application's own routes, not a 404 or 405 fallback."""
    handler = request.match_info.handler
    return request.match_info.http_exception is None and handler not in (
        _method_not_allowed,
        _not_found,
    )


def routed(app: web.Application, routes: Iterable[web.RouteDef]) -> None:
    """Add the routes, each answering `Expect` itself, then the 404 and 405 fallbacks."""
    app.add_routes(
        web.RouteDef(
            route.method,
            route.path,
            route.handler,
            {**route.kwargs, "expect_handler": expect_continue},
        )
        for route in routes
    )
    for resource in list(app.router.resources()):
        if isinstance(resource, web.Resource):
            resource.add_route(hdrs.METH_ANY, _method_not_allowed, expect_handler=expect_continue)
    app.router.add_route(hdrs.METH_ANY, "/{path:.*}", _not_found, expect_handler=expect_continue)
