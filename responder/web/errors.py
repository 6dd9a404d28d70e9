"""Every error leaves the server as JSON with a message a person can act on."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from responder.errors import ConflictError, InputError, JournalUnavailableError, NotFoundError

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

__all__ = ["QuietMalformedRequests", "error_body", "error_middleware"]

log = logging.getLogger(__name__)

# How long Alertmanager and other senders should wait before sending again after a 503.
_RETRY_AFTER_SECONDS = "5"


def error_body(status: int, message: str, **extra: object) -> web.Response:
    """A JSON error response: `{"error": <reason phrase>, "message": ..., ...}`."""
    body = {"error": HTTPStatus(status).phrase.lower(), "message": message, **extra}
    return web.json_response(body, status=status)


async def _answer_and_close(request: web.Request, response: web.Response) -> None:
    """Send the answer, then close: aiohttp would otherwise linger to read the unsent body."""
    response.force_close()
    if request.transport is None or request.transport.is_closing():
        return  # the sender is gone: there is no one to answer
    await response.prepare(request)
    await response.write_eof()
    if request.transport is not None:
        request.transport.close()  # flushes what is buffered, then closes


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn our errors and aiohttp's into JSON; an unexpected fault is logged and a plain 500.

    A domain error (an incident not found, one still running) answers 404 or 409 with
    its own message.
    """
    try:
        return await handler(request)
    except InputError as exc:
        response = error_body(
            exc.status, exc.message, **({"errors": exc.errors} if exc.errors else {})
        )
        response.headers.update(exc.headers)
        # A client too slow to send is not waited for again; a body that could not be read
        # leaves nothing to read on: both connections end with the answer.
        if exc.close or exc.status == 408:  # noqa: PLR2004
            await _answer_and_close(request, response)
        return response
    except (NotFoundError, ConflictError) as exc:
        return error_body(404 if isinstance(exc, NotFoundError) else 409, str(exc))
    except JournalUnavailableError as exc:
        response = error_body(503, f"{exc}; nothing was accepted, send again")
        response.headers["Retry-After"] = _RETRY_AFTER_SECONDS
        return response
    except web.HTTPException as exc:
        if exc.status < 400:  # noqa: PLR2004 - redirects and successes pass through
            raise
        message = exc.text if exc.text and exc.text != f"{exc.status}: {exc.reason}" else exc.reason
        response = error_body(exc.status, message)
        for name in ("Allow", "WWW-Authenticate", "Retry-After"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_body(500, "internal error; the details are in the responder's log")


class QuietMalformedRequests(logging.Filter):
    """One INFO line per malformed request instead of an error with a traceback.

    aiohttp's server logs each one (broken chunk framing, bad headers) as an error with a
    traceback, though it has already answered 400: the fault is the client's, and a flood of
    them would fill the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite a malformed-request record; pass every other one unchanged."""
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.INFO):
            return False
        first = next(iter(exc.message.splitlines()), "").strip().rstrip(":")
        record.msg = f"malformed HTTP request answered {exc.code}: {record.getMessage()}: {first}"
        record.args = ()
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.INFO, "INFO"
        return True
