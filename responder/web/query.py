"""Query strings are text: one that is not UTF-8 is refused before any view reads it.

aiohttp's pure-Python parser (used without its C extension, or with AIOHTTP_NO_EXTENSIONS set)
keeps raw bytes of a request line that are not UTF-8 as lone surrogates; passed on to SQLite
or written as UTF-8 they raise, and the request ended in a 500. (The C parser refuses such a
request line itself; percent-escapes that do not make UTF-8 are decoded as U+FFFD by yarl.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from responder.errors import InputError

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

__all__ = ["query_middleware"]


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@web.middleware
async def query_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A 400 naming the parameter whose name or value is not UTF-8 text."""
    for name, value in request.query.items():
        if not _is_text(name):
            raise InputError(400, "a query parameter's name is not UTF-8 text")
        if not _is_text(value):
            raise InputError(400, f"query parameter {name[:40]!r} is not UTF-8 text")
    return await handler(request)
