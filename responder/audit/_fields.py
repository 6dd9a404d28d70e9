"""What a record's fields may hold, and the private copy of them that the writer serialises."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from pydantic import JsonValue

__all__ = ["AuditValue", "snapshot"]

_SURROGATE = re.compile("[\ud800-\udfff]")

# What a field may hold: JSON, with read-only containers so `list[str]` and `dict[str, int]` fit.
AuditValue: TypeAlias = (
    "Mapping[str, AuditValue] | Sequence[AuditValue] | str | int | float | bool | None"
)


def _text(value: str) -> str:
    # A lone surrogate (json.loads lets "\ud800" through from an alert) cannot be written as UTF-8.
    return value if value.isascii() else _SURROGATE.sub("\ufffd", value)


def _copy(value: AuditValue) -> JsonValue:
    """Strict JSON in UTF-8: lone surrogates replaced, NaN and infinity as text, plain containers."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, int | float):
        return value
    if isinstance(value, Mapping):
        copy: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"audit field keys must be text, not {type(key).__name__}")
            copy[_text(key)] = _copy(item)
        return copy
    if isinstance(value, Sequence):
        return [_copy(item) for item in value]
    raise TypeError(f"an audit field cannot hold {type(value).__name__}")


def snapshot(fields: Mapping[str, AuditValue]) -> dict[str, JsonValue]:
    """A private, writable copy the caller cannot change while the writer serialises it.

    A walk of the fields, not a JSON round trip: records are made on the event loop, once or
    twice per event, and the writer serialises each line anyway.
    """
    return {_text(key): _copy(item) for key, item in fields.items()}
