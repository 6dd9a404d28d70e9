"""Reading a request body at the edge: size, time, JSON syntax and shape, each with its own status."""

from __future__ import annotations

import asyncio
import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, JsonValue, ValidationError

from responder.errors import InputError

__all__ = ["read_json_object", "validate"]

M = TypeVar("M", bound=BaseModel)
_MAX_ERRORS = 20


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


async def read_json_object(
    request: web.Request, *, limit: int, read_timeout: float
) -> dict[str, JsonValue]:
    """The body as a JSON object, or an InputError: 413 too large, 408 too slow, 400 not JSON."""
    if request.content_length is not None and request.content_length > limit:
        raise InputError(
            413, f"body of {request.content_length} bytes exceeds the limit of {limit}"
        )
    try:
        async with asyncio.timeout(read_timeout):
            raw = await request.read()
    except TimeoutError:
        raise InputError(408, f"the body did not arrive within {read_timeout:g} s") from None
    except web.HTTPRequestEntityTooLarge:
        raise InputError(413, f"body exceeds the limit of {limit} bytes") from None
    if not raw:
        raise InputError(400, "empty body: expected a JSON object")
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise InputError(400, f"body is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            400, f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise InputError(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InputError(422, f"expected a JSON object, got {type(body).__name__}")
    return body


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
