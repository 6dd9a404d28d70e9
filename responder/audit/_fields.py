"""What a record's fields may hold, and the private copy of them that the writer serialises."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeAlias

from responder.audit._chain import canonical

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
    return _SURROGATE.sub("\ufffd", value)


def _writable(value: AuditValue) -> AuditValue:
    """Strict JSON in UTF-8: lone surrogates replaced, NaN and infinity as text, plain containers."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {_text(key): _writable(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [_writable(item) for item in value]
    return value


def snapshot(fields: Mapping[str, AuditValue]) -> dict[str, JsonValue]:
    """A private, writable copy the caller cannot change while the writer serialises it."""
    try:
        text = canonical(fields)
        text.encode()
    except (TypeError, ValueError):  # NaN, a lone surrogate, a container json does not know
        text = json.dumps(_writable(fields), sort_keys=True, ensure_ascii=False, allow_nan=False)
    copy: dict[str, JsonValue] = json.loads(text)
    return copy
