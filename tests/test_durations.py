"""Durations as written in YAML: `90s`, `10m`, `1h30m`, `250ms`, numbers of seconds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from responder.durations import Duration, format_duration, parse_duration


class Holder(BaseModel):
    """A model with one duration field, as playbooks and settings use it."""

    wait: Duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("10m", timedelta(minutes=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("250ms", timedelta(milliseconds=250)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s5ms", timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=5)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_units(text: str, expected: timedelta) -> None:
    """Each unit and their combinations add up to the duration written."""
    assert parse_duration(text) == expected


def test_parse_ignores_surrounding_spaces() -> None:
    """Spaces around the text are ignored."""
    assert parse_duration("  10m ") == timedelta(minutes=10)


def test_parse_allows_spaces_between_parts() -> None:
    """`1h 30m` reads like `1h30m`."""
    assert parse_duration("1h 30m") == timedelta(hours=1, minutes=30)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (0, timedelta(0)),
        (30, timedelta(seconds=30)),
        (0.25, timedelta(milliseconds=250)),
        (3600, timedelta(hours=1)),
    ],
)
def test_parse_number_is_seconds(number: float, expected: timedelta) -> None:
    """A bare number (as YAML reads `cooldown: 30`) is a number of seconds."""
    assert parse_duration(number) == expected


def test_parse_timedelta_passes_through() -> None:
    """A timedelta is accepted as it is."""
    assert parse_duration(timedelta(minutes=5)) == timedelta(minutes=5)


@pytest.mark.parametrize("value", [-1, -0.5, timedelta(seconds=-1)])
def test_parse_rejects_negative(value: Any) -> None:
    """A negative duration is refused and the message says so."""
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_duration(value)


def test_parse_rejects_negative_text() -> None:
    """`-5s` is not a duration."""
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("-5s")


@pytest.mark.parametrize("value", [True, False])
def test_parse_rejects_boolean(value: bool) -> None:
    """A boolean is not one or zero seconds."""
    with pytest.raises(ValueError, match="must be a number of seconds"):
        parse_duration(value)


@pytest.mark.parametrize(
    "text", ["10 minutes", "soon", "10mm", "1w", "s", "m10", "10m!", "1,5s", "1e3s", "10m-5s"]
)
def test_parse_rejects_garbage(text: str) -> None:
    """Text that is not number-unit parts is refused with an example of what to write."""
    with pytest.raises(ValueError, match=r"not a duration: .*write e\.g\. 30s, 10m, 1h30m"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["", "   "])
def test_parse_rejects_empty(text: str) -> None:
    """Empty text is refused."""
    with pytest.raises(ValueError, match="cannot be empty"):
        parse_duration(text)


@pytest.mark.parametrize("value", [None, [10], {"m": 10}])
def test_parse_rejects_other_types(value: Any) -> None:
    """None, lists and mappings are not durations."""
    with pytest.raises(ValueError, match="must be a number of seconds"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(minutes=10), "10m"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(hours=1, seconds=5), "1h5s"),
        (timedelta(days=2, hours=3), "2d3h"),
        (timedelta(milliseconds=250), "250ms"),
    ],
)
def test_format_shortest_form(value: timedelta, expected: str) -> None:
    """Formatting gives the shortest form, omitting zero units."""
    assert format_duration(value) == expected


@pytest.mark.parametrize(
    "text", ["0s", "45s", "1m30s", "10m", "1h30m", "1h5s", "1d", "2d3h4m5s", "250ms", "1ms"]
)
def test_format_round_trips_canonical_text(text: str) -> None:
    """Formatting a parsed canonical duration gives the same text back."""
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    "value",
    [
        timedelta(seconds=90),
        timedelta(minutes=10),
        timedelta(hours=1, minutes=30),
        timedelta(milliseconds=250),
        timedelta(days=3, seconds=1),
    ],
)
def test_parse_round_trips_formatted_duration(value: timedelta) -> None:
    """Parsing a formatted duration gives the same duration back."""
    assert parse_duration(format_duration(value)) == value


def test_duration_field_reads_text() -> None:
    """A `Duration` field in a model reads `10m`."""
    assert Holder.model_validate({"wait": "10m"}).wait == timedelta(minutes=10)


def test_duration_field_serialises_as_text() -> None:
    """A `Duration` field dumps as its short text."""
    assert Holder(wait=timedelta(hours=1, minutes=30)).model_dump() == {"wait": "1h30m"}


def test_duration_field_error_is_a_validation_error() -> None:
    """A bad duration in a model is a ValidationError that names the problem."""
    with pytest.raises(ValidationError, match="not a duration: '10 minutes'"):
        Holder.model_validate({"wait": "10 minutes"})
