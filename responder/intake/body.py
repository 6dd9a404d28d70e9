"""Reading a request body at the edge: size, time, JSON syntax and shape, each with its own status."""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, TypeVar

from aiohttp import hdrs, web
from pydantic import BaseModel, JsonValue, ValidationError
from pydantic_core import from_json

from responder.errors import InputError
from responder.intake.encoding import decode_body

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["MAX_NESTING", "check_nesting", "read_json_object", "validate"]

M = TypeVar("M", bound=BaseModel)
_MAX_ERRORS = 20
# A number can overflow a double only with an integer part of 200 digits or more, or with a
# positive exponent of three digits: only bodies holding one are searched for an infinity (see
# below). With every digit written as 0 and E as e, that is a plain substring search, several
# times cheaper than a regular expression over every request's body.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789E", b"000000000e")
_OVERFLOW_MARKS = (b"e000", b"e+000", b"0" * 200)
MAX_NESTING = 64
"""How deep objects and arrays may nest in a body. The journal stores each event with the body
inside it, a level or two deeper, and the reader refuses JSON past 200 levels: the margin keeps
every acknowledged event readable back (no sender nests its alerts half as deep)."""


async def read_json_object(
    request: web.Request, *, limit: int, read_timeout: float
) -> tuple[bytes, dict[str, JsonValue]]:
    """The body's bytes and its JSON object, or InputError: 413 too large, 408 too slow, 400 not JSON."""
    raw = decode_body(
        await _read(request, limit, read_timeout), request.headers.get(hdrs.CONTENT_ENCODING), limit
    )
    if not raw:
        raise InputError(400, "empty body: expected a JSON object")
    try:
        # pydantic-core's parser: twice as fast as json.loads, refuses NaN and Infinity (not
        # JSON), lone surrogates and nesting deeper than 200 levels.
        body = from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        if "recursion limit" in str(exc):  # the parser's own bound, 200 levels
            raise InputError(
                422,
                f"body nests deeper than {MAX_NESTING} levels: at most {MAX_NESTING} are accepted",
            ) from None
        what = "UTF-8 text" if "unicode" in str(exc) else "valid JSON"
        raise InputError(400, f"body is not {what}: {exc}") from None
    if _may_overflow(raw) and (where := _infinite_number(body)) is not None:
        # pydantic-core reads `1e400` as infinity even with allow_inf_nan=False; JSON has no
        # infinity, so the journal would hold null instead of what was sent.
        raise InputError(
            400, f"number out of range at {where[:200]}: JSON numbers must fit a double"
        )
    if not isinstance(body, dict):
        raise InputError(422, f"expected a JSON object, got {type(body).__name__}")
    # Only a body with that many brackets can nest that deep: the count is one pass in C.
    if raw.count(b"{") + raw.count(b"[") > MAX_NESTING:
        check_nesting(body)
    return raw, body


def check_nesting(body: JsonValue) -> None:
    """A 422 naming where the body nests past `MAX_NESTING` levels, if it does."""
    where = _too_deep(body)
    if where is not None:
        raise InputError(
            422,
            f"body nests deeper than {MAX_NESTING} levels at {where[:200]}: "
            f"at most {MAX_NESTING} are accepted",
        )


async def _read(request: web.Request, limit: int, read_timeout: float) -> bytes:
    """The body as sent, or InputError: 413 too large, 408 too slow, 400 unreadable."""
    if request.content_length is not None and request.content_length > limit:
        raise InputError(
            413, f"body of {request.content_length} bytes exceeds the limit of {limit}"
        )
    try:
        if request.content.is_eof():  # small bodies usually arrive with the headers
            return await request.read()
        async with asyncio.timeout(read_timeout):
            return await request.read()
    except TimeoutError:
        raise InputError(408, f"the body did not arrive within {read_timeout:g} s") from None
    except web.HTTPRequestEntityTooLarge:
        raise InputError(413, f"body exceeds the limit of {limit} bytes") from None
    except web.RequestPayloadError as exc:
        # The bytes did not make a body (a framing fault aiohttp words as "400, message: ..."
        # on the error it wraps); nothing after them can be read as a request either.
        why = getattr(exc.__cause__, "message", None) or str(exc)
        message = f"body could not be read: {' '.join(str(why).split())}"
        raise InputError(400, message, close=True) from None
    except ConnectionResetError:
        # The sender went away mid-body, or aiohttp dropped it for broken chunk framing.
        message = "the connection was lost before the whole body arrived"
        raise InputError(400, message, close=True) from None


def _may_overflow(raw: bytes) -> bool:
    """Whether the body holds a number written large enough to overflow a double."""
    shape = raw.translate(_DIGITS_AS_ZERO)
    return any(mark in shape for mark in _OVERFLOW_MARKS)


def _infinite_number(body: JsonValue) -> str | None:
    """The dotted path of a number that overflowed to infinity, or None."""
    stack: list[tuple[tuple[str | int, ...], JsonValue]] = [((), body)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return _field(path)
        if isinstance(value, dict):
            stack.extend(((*path, key), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))
    return None


def _too_deep(body: JsonValue) -> str | None:
    """The dotted path at which the body nests past `MAX_NESTING` levels, or None."""
    # Containers only, with their depth: scalars, the bulk of any body, are never pushed.
    stack: list[tuple[tuple[str | int, ...], JsonValue]] = [((), body)]
    while stack:
        path, value = stack.pop()
        if len(path) >= MAX_NESTING:
            return _field(path)
        if isinstance(value, dict):
            stack.extend(((*path, k), v) for k, v in value.items() if isinstance(v, dict | list))
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in enumerate(value) if isinstance(v, dict | list))
    return None


def _field(path: Sequence[str | int]) -> str:
    """A field of the body by its path, as error messages name it."""
    return ".".join(str(part) for part in path) or "(body)"


def validate(model: type[M], body: dict[str, JsonValue], what: str) -> M:
    """The body as `model`, or a 422 that names every field at fault by its path."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = [
            {"field": _field(e["loc"]), "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)[:_MAX_ERRORS]
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3])
        raise InputError(422, f"not a valid {what}: {summary}", errors=errors) from None
