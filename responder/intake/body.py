"""Reading a request body at the edge: size, time, JSON syntax and shape, each with its own status."""

from __future__ import annotations

import asyncio
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, JsonValue, ValidationError
from pydantic_core import from_json

from responder.errors import InputError

__all__ = ["read_json_object", "validate"]

M = TypeVar("M", bound=BaseModel)
_MAX_ERRORS = 20


async def read_json_object(
    request: web.Request, *, limit: int, read_timeout: float
) -> tuple[bytes, dict[str, JsonValue]]:
    """The body's bytes and its JSON object, or InputError: 413 too large, 408 too slow, 400 not JSON."""
    if request.content_length is not None and request.content_length > limit:
        raise InputError(
            413, f"body of {request.content_length} bytes exceeds the limit of {limit}"
        )
    try:
        if request.content.is_eof():  # small bodies usually arrive with the headers
            raw = await request.read()
        else:
            async with asyncio.timeout(read_timeout):
                raw = await request.read()
    except TimeoutError:
        raise InputError(408, f"the body did not arrive within {read_timeout:g} s") from None
    except web.HTTPRequestEntityTooLarge:
        raise InputError(413, f"body exceeds the limit of {limit} bytes") from None
    if not raw:
        raise InputError(400, "empty body: expected a JSON object")
    try:
        # pydantic-core's parser: twice as fast as json.loads, refuses NaN and Infinity (not
        # JSON), lone surrogates and nesting deeper than 200 levels.
        body = from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        what = "UTF-8 text" if "unicode" in str(exc) else "valid JSON"
        raise InputError(400, f"body is not {what}: {exc}") from None
    if not isinstance(body, dict):
        raise InputError(422, f"expected a JSON object, got {type(body).__name__}")
    return raw, body


def validate(model: type[M], body: dict[str, JsonValue], what: str) -> M:
    """The body as `model`, or a 422 that names every field at fault by its path."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)[:_MAX_ERRORS]
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3])
        raise InputError(422, f"not a valid {what}: {summary}", errors=errors) from None
