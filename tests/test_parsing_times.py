"""The shared reading rules: times in any shape, priorities in any case, body hashes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from responder.intake._parsing import body_digest, parse_time
from responder.journal import Priority

INSTANT = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
EPOCH_SECONDS = 1741944413


def test_none_is_no_time() -> None:
    """None reads as no time."""
    assert parse_time(None) is None


def test_empty_string_is_no_time() -> None:
    """An empty string reads as no time."""
    assert parse_time("") is None


def test_go_zero_time_is_no_time() -> None:
    """Go's zero time, which Alertmanager sends for "no end", reads as no time."""
    assert parse_time("0001-01-01T00:00:00Z") is None


def test_bool_is_refused() -> None:
    """A JSON boolean is not read as epoch 0 or 1, nor silently as no time."""
    with pytest.raises(ValueError, match="not a boolean"):
        parse_time(True)  # noqa: FBT003 - the value under test


def test_blank_string_is_no_time() -> None:
    """Whitespace alone means no time, like an empty string."""
    assert parse_time("  ") is None


def test_zulu_string_is_aware_utc() -> None:
    """A `Z` time is an aware UTC datetime."""
    parsed = parse_time("2025-03-14T09:26:53Z")
    assert parsed == INSTANT
    assert parsed is not None
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == timedelta(0)


def test_offset_string_is_converted_to_utc() -> None:
    """A `-05:00` time is the same instant, expressed in UTC so that keys are stable."""
    parsed = parse_time("2025-03-14T04:26:53-05:00")
    assert parsed == INSTANT
    assert parsed is not None
    assert parsed.utcoffset() == timedelta(0)


def test_offset_without_colon_is_read() -> None:
    """An offset written `+0000`, as in Falco's output line, is read."""
    assert parse_time("2025-03-14T09:26:53.000000+0000") == INSTANT


def test_naive_string_is_read_as_utc() -> None:
    """A time without an offset is taken as UTC."""
    parsed = parse_time("2025-03-14T09:26:53")
    assert parsed == INSTANT
    assert parsed is not None
    assert parsed.tzinfo is UTC


def test_nanosecond_fraction_is_cut_to_microseconds() -> None:
    """Nine fraction digits are cut, not rounded, to six."""
    assert parse_time("2025-03-14T09:26:53.589793999Z") == INSTANT.replace(microsecond=589793)


def test_short_fraction_is_read() -> None:
    """A one-digit fraction, as Alertmanager sometimes sends, is read."""
    assert parse_time("2025-03-14T09:26:53.3Z") == INSTANT.replace(microsecond=300000)


def test_surrounding_whitespace_is_ignored() -> None:
    """Spaces around a time do not matter."""
    assert parse_time("  2025-03-14T09:26:53Z\n") == INSTANT


@pytest.mark.parametrize(
    "value",
    [
        EPOCH_SECONDS,
        EPOCH_SECONDS * 1_000,
        EPOCH_SECONDS * 1_000_000,
        EPOCH_SECONDS * 1_000_000_000,
    ],
    ids=["seconds", "milliseconds", "microseconds", "nanoseconds"],
)
def test_integer_epoch_in_any_unit_is_the_same_instant(value: int) -> None:
    """Epoch integers in s, ms, us and ns are told apart by size."""
    assert parse_time(value) == INSTANT


def test_integer_epoch_is_aware_utc() -> None:
    """An epoch integer gives an aware UTC datetime."""
    parsed = parse_time(EPOCH_SECONDS)
    assert parsed is not None
    assert parsed.tzinfo is UTC


def test_digit_string_is_an_epoch() -> None:
    """An epoch written as a string of digits is read as a number."""
    assert parse_time(str(EPOCH_SECONDS * 1_000_000_000)) == INSTANT


def test_float_epoch_keeps_its_fraction() -> None:
    """A float epoch in seconds keeps its fraction."""
    assert parse_time(EPOCH_SECONDS + 0.5) == INSTANT.replace(microsecond=500000)


def test_negative_epoch_is_before_1970() -> None:
    """A negative epoch is read, not refused."""
    assert parse_time(-1) == datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_out_of_range_epoch_is_a_value_error() -> None:
    """An epoch past any representable date is refused with a ValueError."""
    with pytest.raises(ValueError, match="epoch time out of range"):
        parse_time(10**30)


def test_nan_epoch_is_a_value_error() -> None:
    """A NaN epoch is refused with a ValueError."""
    with pytest.raises(ValueError, match="epoch time out of range"):
        parse_time(float("nan"))


def test_text_that_is_not_a_time_is_a_value_error() -> None:
    """Free text is refused, quoting the value."""
    with pytest.raises(ValueError, match="not an RFC 3339 time: 'last tuesday'"):
        parse_time("last tuesday")


def test_time_of_day_alone_is_a_value_error() -> None:
    """A time of day without a date is refused."""
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        parse_time("09:26:53.589793238")


def test_a_list_is_a_value_error() -> None:
    """A value that is neither string nor number is refused."""
    with pytest.raises(ValueError, match="RFC 3339 string or an integer epoch"):
        parse_time(["2025-03-14T09:26:53Z"])


def test_parsed_times_from_different_offsets_compare_equal() -> None:
    """One instant written in two offsets is one time."""
    eastern = parse_time("2025-03-14T05:26:53-04:00")
    india = parse_time("2025-03-14T14:56:53+05:30")
    assert eastern == india == INSTANT
    assert india is not None
    assert india.isoformat() == INSTANT.isoformat()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("WARNING", Priority.WARNING),
        ("Warning", Priority.WARNING),
        ("warn", Priority.WARNING),
        ("Info", Priority.INFORMATIONAL),
        ("informational", Priority.INFORMATIONAL),
        ("critical", Priority.CRITICAL),
        ("crit", Priority.CRITICAL),
        ("err", Priority.ERROR),
        ("emerg", Priority.EMERGENCY),
        ("Debug", Priority.DEBUG),
        (" Notice ", Priority.NOTICE),
        ("ALERT", Priority.ALERT),
    ],
)
def test_priority_parse_reads_any_case_and_alias(text: str, expected: Priority) -> None:
    """Levels are read in any case, trimmed, with the aliases senders use."""
    assert Priority.parse(text) is expected


def test_priority_parse_refuses_an_unknown_level() -> None:
    """An unknown level is a ValueError that lists the known ones, highest first."""
    with pytest.raises(ValueError, match="unknown priority 'Severe'; expected one of Emergency,"):
        Priority.parse("Severe")


def test_priority_parse_refuses_an_empty_level() -> None:
    """An empty string is not a level."""
    with pytest.raises(ValueError, match="unknown priority"):
        Priority.parse("")


def test_priorities_order_by_severity() -> None:
    """Levels compare by severity, Debug lowest and Emergency highest."""
    assert max(Priority) is Priority.EMERGENCY
    assert min(Priority) is Priority.DEBUG
    assert Priority.CRITICAL > Priority.WARNING > Priority.INFORMATIONAL > Priority.DEBUG


def test_priority_label_is_falco_spelling() -> None:
    """A level's label is spelled as Falco writes it."""
    assert [p.label for p in Priority] == [
        "Debug",
        "Informational",
        "Notice",
        "Warning",
        "Error",
        "Critical",
        "Alert",
        "Emergency",
    ]


def test_body_digest_ignores_key_order() -> None:
    """Two objects with the same members in another order hash alike."""
    assert body_digest({"a": 1, "b": [1, 2]}) == body_digest({"b": [1, 2], "a": 1})


def test_body_digest_ignores_whitespace_of_the_sent_text() -> None:
    """Bodies sent with different spacing hash alike once read."""
    compact = json.loads('{"rule":"R","output_fields":{"x":null,"y":-1}}')
    spaced = json.loads('{\n  "output_fields": { "y": -1, "x": null },\n  "rule": "R"\n}')
    assert body_digest(compact) == body_digest(spaced)


def test_body_digest_tells_values_apart() -> None:
    """A changed value changes the hash."""
    assert body_digest({"a": 1}) != body_digest({"a": 2})


def test_body_digest_keeps_list_order() -> None:
    """Lists are ordered: swapping two items changes the hash."""
    assert body_digest({"tags": ["a", "b"]}) != body_digest({"tags": ["b", "a"]})


def test_body_digest_is_a_sha256_hex() -> None:
    """The digest is 64 lower-case hex characters."""
    digest = body_digest({"rule": "Terminal shell in container"})
    assert len(digest) == 64
    assert set(digest) <= set("0123456789abcdef")


def test_body_digest_reads_non_ascii_and_lone_surrogates() -> None:
    """Non-ASCII text and a lone surrogate from JSON hash without error."""
    body = json.loads('{"user": "J\\u00fcrgen", "odd": "\\ud800"}')
    assert body_digest(body) != body_digest({"user": "Jurgen", "odd": "\ud800"})
