"""Shared rules for reading sender payloads: times in any shape, priorities in any case, body hashes."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BeforeValidator, JsonValue

__all__ = ["FlexibleTime", "body_digest", "parse_time"]

_GO_ZERO_YEAR = 1
# Integer timestamps: Falco sends nanoseconds; others send seconds or milliseconds.
_NS_FROM = 10**17
_US_FROM = 10**14
_MS_FROM = 10**11
_MAX_EPOCH_DIGITS = 30  # nanoseconds until the year 9999 take 20
_SHOWN_DIGITS_FROM = 10**20  # larger epochs are shown by their size, not in all their digits


def parse_time(value: object) -> datetime | None:
    """Read an RFC 3339 string or an integer epoch in s/ms/us/ns; Go's zero time means "none"."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a time must be an RFC 3339 string or an integer epoch, not a boolean")  # noqa: TRY004 - pydantic wants ValueError
    if isinstance(value, int | float):
        return _from_epoch(value)
    if isinstance(value, str):
        return _from_text(value)
    raise ValueError("a time must be an RFC 3339 string or an integer epoch")


def _from_text(value: str) -> datetime | None:
    """An RFC 3339 time or a numeric epoch, written as text."""
    text = value.strip()
    if not text:
        return None
    digits = text.removeprefix("-")
    if digits.isascii() and digits.isdigit():
        if len(digits) > _MAX_EPOCH_DIGITS:
            raise ValueError(f"epoch time out of range: {len(digits)} digits")
        return _from_epoch(int(text))
    try:
        # Python 3.11 reads any number of fraction digits and truncates past microseconds,
        # as Falco's nanoseconds need.
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an RFC 3339 time: {value[:64]!r}") from None
    if parsed.year == _GO_ZERO_YEAR:
        return None
    # Naive means UTC; offsets are kept as the same instant in UTC, so keys are stable.
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is after the last time Python holds
        raise ValueError(f"time out of range: {value[:64]!r}") from None


def _from_epoch(number: float) -> datetime:
    """Integers are split exactly (sub-microseconds truncated, as strings are); floats are seconds."""
    size = abs(number)
    per_second = (
        10**9
        if size >= _NS_FROM
        else 10**6
        if size >= _US_FROM
        else 10**3
        if size >= _MS_FROM
        else 1
    )
    try:
        if isinstance(number, int):
            seconds, fraction = divmod(number, per_second)
            micros = fraction * 10**6 // per_second
            return datetime.fromtimestamp(seconds, tz=UTC) + timedelta(microseconds=micros)
        return datetime.fromtimestamp(number / per_second, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"epoch time out of range: {_shown(number)}") from None


def _shown(number: float) -> str:
    """A number for a message: a huge integer by its size, not in all its digits."""
    if isinstance(number, int) and abs(number) >= _SHOWN_DIGITS_FROM:
        # bit_length, not str(): Python refuses to print integers of more than 4300 digits.
        return f"an integer of about {int(number.bit_length() * math.log10(2)) + 1} digits"
    return str(number) if isinstance(number, int) else f"{number:g}"


FlexibleTime = Annotated[datetime | None, BeforeValidator(parse_time)]


def body_digest(body: JsonValue) -> str:
    """A sha256 of the body's canonical JSON, so whitespace and key order do not matter."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
