"""Falco `http_output` and Falcosidekick bodies parsed into an `Event`, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from _payloads import load_payload
from pydantic import JsonValue, ValidationError

from responder.errors import InputError
from responder.intake.body import validate
from responder.intake.falco import FalcoPayload, falco_event
from responder.intake.targets import falco_target
from responder.journal import Event, Priority, Target

RECEIVED = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def parse(body: dict[str, JsonValue], received_at: datetime = RECEIVED) -> Event:
    """The event for `body`, the way the Falco endpoint builds it."""
    return falco_event(validate(FalcoPayload, body, "Falco event"), body, received_at)


def output_fields(body: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """The body's `output_fields` object, typed for changes in a test."""
    fields = body["output_fields"]
    assert isinstance(fields, dict)
    return fields


def rejection(body: dict[str, JsonValue]) -> InputError:
    """The InputError that validating `body` as a Falco event raises."""
    with pytest.raises(InputError) as caught:
        validate(FalcoPayload, body, "Falco event")
    return caught.value


def test_http_output_reads_rule_source_hostname_and_tags() -> None:
    """A Falco http_output body gives its rule, source, hostname and tags."""
    event = parse(load_payload("falco/http_output_iso_time.json"))
    assert event.source == "falco"
    assert event.name == "Launch Package Management Process in Container"
    assert event.event_source == "syscall"
    assert event.hostname == "build-node-07"
    assert event.tags == (
        "T1072",
        "container",
        "maturity_stable",
        "mitre_execution",
        "process",
        "software_mgmt",
    )


def test_falco_event_is_always_firing() -> None:
    """Falco has no resolved notifications, so every event fires."""
    assert parse(load_payload("falco/http_output_iso_time.json")).status == "firing"


def test_output_line_is_the_event_output() -> None:
    """The text a person reads is Falco's output line, unchanged."""
    body = load_payload("falco/http_output_ancestors.json")
    assert parse(body).output == body["output"]


def test_iso_time_is_the_event_time_in_utc() -> None:
    """The top-level ISO time, cut to microseconds, is the event time as an aware UTC datetime."""
    event = parse(load_payload("falco/http_output_iso_time.json"))
    assert event.time == datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
    assert event.time.utcoffset() == timedelta(0)


def test_received_at_is_kept_apart_from_event_time() -> None:
    """The arrival time is recorded as given, not mixed with the event time."""
    assert parse(load_payload("falco/http_output_iso_time.json")).received_at == RECEIVED


def test_missing_time_falls_back_to_integer_iso8601_field() -> None:
    """Without a top-level time the integer `evt.time.iso8601` (nanoseconds) is used."""
    body = load_payload("falco/http_output_iso_time.json")
    del body["time"]
    event = parse(body)
    expected = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
    assert event.time == expected
    assert event.time.utcoffset() == timedelta(0)


def test_missing_time_falls_back_to_integer_evt_time_field() -> None:
    """Without a top-level time the integer `evt.time` (nanoseconds) is used."""
    body = load_payload("falco/old_minimal.json")
    del body["time"]
    expected = datetime(2020, 11, 9, 7, 45, 2, 330918, tzinfo=UTC)
    assert parse(body).time == expected


def test_go_zero_top_level_time_falls_back_to_fields() -> None:
    """A Go zero `time` counts as missing, so the time comes from the output fields."""
    body = load_payload("falco/host_process.json")
    body["time"] = "0001-01-01T00:00:00Z"
    expected = datetime(2025, 4, 30, 17, 58, 20, 640114, tzinfo=UTC)
    assert parse(body).time == expected


def test_unreadable_time_field_is_skipped_for_the_next_one() -> None:
    """A time-of-day `evt.time` string is passed over in favour of `evt.time.iso8601`."""
    body = load_payload("falco/http_output_iso_time.json")
    del body["time"]
    output_fields(body)["evt.time"] = "09:26:53.589793238"
    expected = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
    assert parse(body).time == expected


def test_no_time_anywhere_uses_received_at() -> None:
    """A body with no time at all takes the time it was received."""
    body = load_payload("falco/unknown_keys.json")
    del body["time"]
    assert parse(body).time == RECEIVED


def test_fields_keep_their_json_types() -> None:
    """Output fields stay ints, negative ints, strings and nulls as sent."""
    fields = parse(load_payload("falco/http_output_iso_time.json")).fields
    assert fields["user.loginuid"] == -1
    assert type(fields["user.loginuid"]) is int
    assert fields["evt.time.iso8601"] == 1741944413589793238
    assert type(fields["evt.time.iso8601"]) is int
    assert fields["proc.tty"] == 34816
    assert fields["k8s.pod.name"] is None
    assert fields["proc.cmdline"] == "apk add curl"


def test_fields_equal_the_sent_output_fields() -> None:
    """Every output field arrives in the event, no more and no fewer."""
    body = load_payload("falco/http_output_ancestors.json")
    assert dict(parse(body).fields) == body["output_fields"]


def test_bracketed_keys_and_null_values_are_kept_verbatim() -> None:
    """Keys such as `proc.aname[2]` are kept as written, and a null stays None."""
    fields = parse(load_payload("falco/http_output_ancestors.json")).fields
    assert fields["proc.aname[2]"] == "sh"
    assert fields["proc.aname[4]"] == "containerd-shim"
    assert "proc.aname[5]" in fields
    assert fields["proc.aname[5]"] is None


def test_container_fields_give_the_target() -> None:
    """`container.id` and `container.name` name the target container."""
    event = parse(load_payload("falco/http_output_ancestors.json"))
    assert event.target == Target(id="b81e6d04c2fa", name="storefront-web")


def test_host_container_id_gives_no_target() -> None:
    """`container.id: host` means the process runs on the host: nothing to contain."""
    assert parse(load_payload("falco/host_process.json")).target is None


def test_minimal_old_body_gives_no_target() -> None:
    """A body with no container fields names no target."""
    assert parse(load_payload("falco/old_minimal.json")).target is None


def test_minimal_old_body_has_no_source_tags_or_hostname() -> None:
    """An old Falco body without source, tags and hostname leaves them empty."""
    event = parse(load_payload("falco/old_minimal.json"))
    assert event.name == "Set Setuid or Setgid bit"
    assert event.event_source is None
    assert event.tags == ()
    assert event.hostname is None
    assert event.time == datetime(2020, 11, 9, 7, 45, 2, 330918, tzinfo=UTC)


def test_empty_hostname_is_read_as_none() -> None:
    """An empty hostname string is no hostname."""
    body = load_payload("falco/http_output_iso_time.json")
    body["hostname"] = ""
    assert parse(body).hostname is None


def test_missing_output_fields_give_empty_fields_and_no_target() -> None:
    """A body without `output_fields` still parses, with no fields and no target."""
    body = load_payload("falco/old_minimal.json")
    del body["output_fields"]
    event = parse(body)
    assert event.fields == {}
    assert event.target is None


def test_missing_output_gives_empty_text() -> None:
    """A body without `output` has an empty output text."""
    body = load_payload("falco/old_minimal.json")
    del body["output"]
    assert parse(body).output == ""


@pytest.mark.parametrize(
    ("relpath", "expected"),
    [
        ("falco/http_output_iso_time.json", Priority.WARNING),
        ("falco/http_output_ancestors.json", Priority.NOTICE),
        ("falco/old_minimal.json", Priority.INFORMATIONAL),
        ("falco/host_process.json", Priority.INFORMATIONAL),
        ("falco/falcosidekick_uuid.json", Priority.CRITICAL),
        ("falco/unknown_keys.json", Priority.ERROR),
    ],
)
def test_priority_is_read_in_any_case_and_alias(relpath: str, expected: Priority) -> None:
    """`WARNING`, `Notice`, `Info`, `informational`, `critical` and `Error` map to their levels."""
    assert parse(load_payload(relpath)).priority is expected


def test_same_body_twice_gives_the_same_key() -> None:
    """A body parsed twice has one key, so a re-send is journaled once."""
    first = parse(load_payload("falco/http_output_iso_time.json"))
    second = parse(load_payload("falco/http_output_iso_time.json"), RECEIVED + timedelta(hours=1))
    assert first.key == second.key
    assert first.key.startswith("falco:")


def test_same_body_twice_gives_distinct_event_ids() -> None:
    """Each parse makes a new event id even when the key repeats."""
    first = parse(load_payload("falco/http_output_iso_time.json"))
    second = parse(load_payload("falco/http_output_iso_time.json"))
    assert first.id != second.id


def test_key_ignores_key_order_of_the_body() -> None:
    """The same body with its keys in another order has the same key."""
    body = load_payload("falco/http_output_ancestors.json")
    reordered = dict(reversed(list(body.items())))
    assert list(reordered) != list(body)
    assert parse(reordered).key == parse(body).key


def test_different_body_gives_a_different_key() -> None:
    """A body differing in one output field is a different event."""
    body = load_payload("falco/http_output_iso_time.json")
    changed = load_payload("falco/http_output_iso_time.json")
    output_fields(changed)["proc.pid"] = 4822
    assert parse(changed).key != parse(body).key


def test_falcosidekick_key_is_its_uuid() -> None:
    """A Falcosidekick body is keyed by its `uuid`."""
    event = parse(load_payload("falco/falcosidekick_uuid.json"))
    assert event.key == "falcosidekick:5d0f3a9c-7e21-4b6a-9c84-2f1e6b0d7a53"


def test_falcosidekick_resend_with_same_uuid_keeps_the_key() -> None:
    """Two bodies with one uuid are one event even if other values differ."""
    body = load_payload("falco/falcosidekick_uuid.json")
    changed = load_payload("falco/falcosidekick_uuid.json")
    changed["hostname"] = "worker-c.internal"
    assert parse(changed).key == parse(body).key


def test_falcosidekick_body_gives_target_and_time() -> None:
    """The Falcosidekick body names its container and keeps its ISO time."""
    event = parse(load_payload("falco/falcosidekick_uuid.json"))
    assert event.target == Target(id="e27c90a4d13b", name="payments-cron")
    assert event.time == datetime(2025, 6, 2, 4, 12, 38, 118204, tzinfo=UTC)


def test_empty_uuid_falls_back_to_the_body_hash() -> None:
    """An empty `uuid` is no uuid: the key is the body hash."""
    body = load_payload("falco/falcosidekick_uuid.json")
    body["uuid"] = ""
    assert parse(body).key.startswith("falco:")


def test_unknown_top_level_keys_are_ignored() -> None:
    """Keys Falco may add later do not stop a body from parsing."""
    body = load_payload("falco/unknown_keys.json")
    event = parse(body)
    assert event.name == "Modify binary dirs"
    assert event.target == Target(id="0c5b7d9e2a41", name="ci-job-8812")
    assert event.time == datetime(2025, 8, 11, 12, 0, 45, 901237, tzinfo=UTC)


def test_unknown_top_level_keys_stay_in_the_raw_body() -> None:
    """The raw body kept on the event is the whole body, unknown keys included."""
    body = load_payload("falco/unknown_keys.json")
    event = parse(body)
    assert event.raw == body
    assert event.raw["output_format_version"] == 3


def test_missing_rule_is_a_422_naming_rule() -> None:
    """A body without `rule` is refused with 422 and the field `rule`."""
    body = load_payload("falco/old_minimal.json")
    del body["rule"]
    error = rejection(body)
    assert error.status == 422
    assert [e["field"] for e in error.errors] == ["rule"]
    assert error.message.startswith("not a valid Falco event: rule:")


def test_empty_rule_is_a_422_naming_rule() -> None:
    """An empty rule name is refused."""
    body = load_payload("falco/old_minimal.json")
    body["rule"] = ""
    assert [e["field"] for e in rejection(body).errors] == ["rule"]


def test_unknown_priority_is_a_422_naming_priority() -> None:
    """A priority outside Falco's scale is refused, with the known levels in the message."""
    body = load_payload("falco/old_minimal.json")
    body["priority"] = "Severe"
    error = rejection(body)
    assert error.status == 422
    assert [e["field"] for e in error.errors] == ["priority"]
    assert "unknown priority 'Severe'" in error.errors[0]["message"]


def test_numeric_priority_is_a_422_naming_priority() -> None:
    """A priority given as a number is refused."""
    body = load_payload("falco/old_minimal.json")
    body["priority"] = 4
    assert [e["field"] for e in rejection(body).errors] == ["priority"]


def test_missing_priority_is_a_422_naming_priority() -> None:
    """A body without `priority` is refused."""
    body = load_payload("falco/old_minimal.json")
    del body["priority"]
    assert [e["field"] for e in rejection(body).errors] == ["priority"]


def test_unreadable_time_is_a_422_naming_time() -> None:
    """A top-level time that is not RFC 3339 is refused, with the field `time`."""
    body = load_payload("falco/old_minimal.json")
    body["time"] = "yesterday at noon"
    error = rejection(body)
    assert [e["field"] for e in error.errors] == ["time"]
    assert "not an RFC 3339 time" in error.errors[0]["message"]


def test_tags_that_are_not_a_list_are_a_422() -> None:
    """Tags given as one string are refused with the field `tags`."""
    body = load_payload("falco/http_output_iso_time.json")
    body["tags"] = "container"
    assert [e["field"] for e in rejection(body).errors] == ["tags"]


def test_non_string_tag_is_a_422_naming_its_index() -> None:
    """A tag that is not a string is refused with its index in the path."""
    body = load_payload("falco/http_output_iso_time.json")
    body["tags"] = ["container", 7]
    assert [e["field"] for e in rejection(body).errors] == ["tags.1"]


def test_output_fields_that_are_not_an_object_are_a_422() -> None:
    """`output_fields` given as a list is refused with the field `output_fields`."""
    body = load_payload("falco/http_output_iso_time.json")
    body["output_fields"] = ["container.id", "3f9a1c7e5b2d"]
    assert [e["field"] for e in rejection(body).errors] == ["output_fields"]


def test_every_faulty_field_is_named() -> None:
    """A body wrong in two places names both fields."""
    error = rejection({"priority": "Loud", "output": "x"})
    assert sorted(e["field"] for e in error.errors) == ["priority", "rule"]


def test_model_raises_validation_error_on_wrong_shape() -> None:
    """The payload model itself raises pydantic's ValidationError."""
    with pytest.raises(ValidationError):
        FalcoPayload.model_validate({"rule": "Some rule", "priority": ["Warning"]})


def test_falco_target_reads_id_and_name() -> None:
    """`container.id` and `container.name` become the target's id and name."""
    target = falco_target({"container.id": "5a1e3c9f7b20", "container.name": "mailer"})
    assert target == Target(id="5a1e3c9f7b20", name="mailer")
    assert target is not None
    assert target.ref == "5a1e3c9f7b20"


def test_falco_target_host_id_gives_none_even_with_a_name() -> None:
    """`container.id: host` wins over any name: the event is about the host."""
    assert falco_target({"container.id": "host", "container.name": "mailer"}) is None


def test_falco_target_na_id_keeps_the_name() -> None:
    """An `<NA>` id is no id; the name alone is the target."""
    target = falco_target({"container.id": "<NA>", "container.name": "mailer"})
    assert target == Target(id=None, name="mailer")
    assert target is not None
    assert target.ref == "mailer"


def test_falco_target_null_id_keeps_the_name() -> None:
    """A null id is no id; the name alone is the target."""
    assert falco_target({"container.id": None, "container.name": "mailer"}) == Target(name="mailer")


def test_falco_target_strips_the_leading_slash_of_a_name() -> None:
    """A Docker-style `/name` is read as `name`."""
    assert falco_target({"container.name": "/mailer"}) == Target(name="mailer")


def test_falco_target_strips_a_runtime_prefix_of_an_id() -> None:
    """An id written `containerd://<id>` is read as the bare id."""
    assert falco_target({"container.id": "containerd://5a1e3c9f7b20"}) == Target(id="5a1e3c9f7b20")


def test_falco_target_ignores_a_non_string_id() -> None:
    """An id that is not a string is no id."""
    assert falco_target({"container.id": 12345, "container.name": "<NA>"}) is None


def test_falco_target_without_container_fields_is_none() -> None:
    """No container fields, no target."""
    assert falco_target({"proc.name": "bash", "user.loginuid": -1}) is None


def test_payload_model_accepts_a_priority_member() -> None:
    """A payload built in code may pass a `Priority` member directly."""
    payload = FalcoPayload.model_validate({"rule": "Some rule", "priority": Priority.ALERT})
    assert payload.priority is Priority.ALERT
