"""Durations as people write them in YAML: `90s`, `10m`, `1h30m`, or a number of seconds."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

__all__ = ["Duration", "PositiveDuration", "format_duration", "parse_duration"]

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d)\s*)+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _seconds(value: Any) -> float:  # noqa: ANN401 - raw YAML
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float: 10**400 seconds
            raise ValueError("duration too long: the number is beyond any float") from None
    if not isinstance(value, str):
        raise ValueError("a duration must be a number of seconds or text such as '10m'")  # noqa: TRY004
    text = value.strip()
    if not text:
        raise ValueError("a duration cannot be empty")
    if _NUMBER.fullmatch(text):
        return float(text)
    if _WHOLE.fullmatch(text):
        return sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    raise ValueError(f"not a duration: {value!r} (write e.g. 30s, 10m, 1h30m)")


def parse_duration(value: Any) -> timedelta:  # noqa: ANN401 - validators see raw YAML
    """`10m` -> 10 minutes; a bare number (or numeric text) is seconds; negatives are refused."""
    seconds = _seconds(value)
    if not math.isfinite(seconds):
        raise ValueError(f"a duration must be finite, got {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration too long: {value!r}") from None


def format_duration(value: timedelta) -> str:
    """The shortest form: `10m`, `1h30m`, `45s`, `250ms`."""
    total = value.total_seconds()
    if total != int(total):  # keep fractions: 1500ms stays 1500ms, 0.0001s stays 0.0001s
        millis = total * 1000
        return f"{millis:g}ms" if millis == int(millis) else f"{total:g}s"
    seconds = int(total)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
"""A duration that must be longer than zero (timeouts, windows, back-offs)."""
