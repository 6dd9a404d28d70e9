"""Alertmanager webhook groups parsed into one `Event` per alert, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from _payloads import load_payload
from pydantic import JsonValue, ValidationError

from responder.errors import InputError
from responder.intake._parsing import body_digest
from responder.intake.alertmanager import AlertmanagerGroup, alertmanager_events, severity_priority
from responder.intake.body import validate
from responder.intake.targets import labels_target
from responder.journal import Event, Priority, Target
from responder.settings import TargetRules

RECEIVED = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
DEFAULT_RULES = TargetRules()


def parse(
    body: dict[str, JsonValue],
    received_at: datetime = RECEIVED,
    rules: TargetRules = DEFAULT_RULES,
) -> list[Event]:
    """The events for `body`, the way the Alertmanager endpoint builds them."""
    group = validate(AlertmanagerGroup, body, "Alertmanager webhook group")
    return alertmanager_events(group, body, received_at, rules)


def parse_one(body: dict[str, JsonValue]) -> Event:
    """The single event of a one-alert group."""
    events = parse(body)
    assert len(events) == 1
    return events[0]


def alert(body: dict[str, JsonValue], index: int = 0) -> dict[str, JsonValue]:
    """One alert object of the group body, typed for changes in a test."""
    alerts = body["alerts"]
    assert isinstance(alerts, list)
    found = alerts[index]
    assert isinstance(found, dict)
    return found


def labels(body: dict[str, JsonValue], index: int = 0) -> dict[str, JsonValue]:
    """The labels object of one alert, typed for changes in a test."""
    found = alert(body, index)["labels"]
    assert isinstance(found, dict)
    return found


def rejection(body: dict[str, JsonValue]) -> InputError:
    """The InputError that validating `body` as an Alertmanager group raises."""
    with pytest.raises(InputError) as caught:
        validate(AlertmanagerGroup, body, "Alertmanager webhook group")
    return caught.value


def test_one_event_per_alert() -> None:
    """A group of two alerts gives two events, in order."""
    events = parse(load_payload("alertmanager/mixed_statuses.json"))
    assert [e.target for e in events] == [
        Target(id="a4c8e2f61b09", name="orders-api"),
        Target(name="orders-worker"),
    ]


def test_each_alert_keeps_its_own_status_in_a_firing_group() -> None:
    """A resolved alert in a firing group is resolved: the group status is only a summary."""
    events = parse(load_payload("alertmanager/mixed_statuses.json"))
    assert [e.status for e in events] == ["firing", "resolved"]


def test_alert_without_status_takes_the_group_status() -> None:
    """A v4 alert lacking `status` takes the group's."""
    assert parse_one(load_payload("alertmanager/firing_v4_minimal_alerts.json")).status == "firing"


def test_resolved_group_without_alert_status_is_resolved() -> None:
    """An alert lacking `status` in a resolved group is resolved."""
    body = load_payload("alertmanager/resolved_v4_full.json")
    del alert(body)["status"]
    assert parse_one(body).status == "resolved"


def test_alert_without_any_status_is_firing() -> None:
    """With no status on the alert or the group, the alert fires."""
    body = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    del body["status"]
    assert parse_one(body).status == "firing"


def test_event_fields_come_from_the_alert() -> None:
    """Name, source, labels and annotations are the alert's own."""
    body = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    event = parse_one(body)
    assert event.source == "alertmanager"
    assert event.name == "QueueBacklogGrowing"
    assert event.labels == alert(body)["labels"]
    assert event.annotations == alert(body)["annotations"]
    assert event.received_at == RECEIVED


def test_firing_time_is_starts_at_with_its_offset_honoured() -> None:
    """A `-05:00` startsAt is the event time, the same instant as its UTC reading."""
    event = parse_one(load_payload("alertmanager/firing_v4_minimal_alerts.json"))
    assert event.time == datetime(2025, 2, 3, 19, 5, 9, 123456, tzinfo=UTC)
    assert event.time.utcoffset() is not None


def test_go_zero_ends_at_is_no_end() -> None:
    """`0001-01-01T00:00:00Z` endsAt is read as no end time."""
    body = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    group = AlertmanagerGroup.model_validate(body)
    assert group.alerts[0].ends_at is None
    assert group.alerts[0].starts_at == datetime(
        2025, 2, 3, 14, 5, 9, 123456, tzinfo=timezone(timedelta(hours=-5))
    )


def test_missing_fingerprint_and_generator_url_are_none() -> None:
    """A v4 alert lacking `fingerprint` and `generatorURL` still parses."""
    group = AlertmanagerGroup.model_validate(
        load_payload("alertmanager/firing_v4_minimal_alerts.json")
    )
    assert group.alerts[0].fingerprint is None
    assert group.alerts[0].generator_url is None
    assert group.alerts[0].status is None


def test_resolved_time_is_ends_at() -> None:
    """A resolved alert happened when it ended."""
    event = parse_one(load_payload("alertmanager/resolved_v4_full.json"))
    assert event.time == datetime(2025, 9, 18, 3, 2, 47, 250000, tzinfo=UTC)
    assert event.time.utcoffset() == timedelta(0)


def test_resolved_alert_with_go_zero_end_uses_starts_at() -> None:
    """A resolved alert without a real endsAt falls back to its startsAt."""
    body = load_payload("alertmanager/resolved_v4_full.json")
    alert(body)["endsAt"] = "0001-01-01T00:00:00Z"
    assert parse_one(body).time == datetime(2025, 9, 18, 2, 40, 17, 500000, tzinfo=UTC)


def test_firing_alert_ignores_a_future_ends_at() -> None:
    """A firing alert's time is its start even when Alertmanager sets an endsAt."""
    body = load_payload("alertmanager/newer_keys.json")
    alert(body)["endsAt"] = "2026-01-15T19:52:02Z"
    assert parse_one(body).time == datetime(2026, 1, 15, 19, 47, 2, 664120, tzinfo=UTC)


def test_alert_without_times_uses_received_at() -> None:
    """An alert with neither startsAt nor endsAt takes the time it was received."""
    body = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    del alert(body)["startsAt"]
    del alert(body)["endsAt"]
    assert parse_one(body).time == RECEIVED


def test_full_v4_group_keeps_its_context_in_raw() -> None:
    """The raw record holds the alert as sent and the group's receiver, key, URL and version."""
    body = load_payload("alertmanager/resolved_v4_full.json")
    event = parse_one(body)
    assert event.raw == {
        "alert": alert(body),
        "group": {
            "receiver": "responder\\.prod",
            "groupKey": '{}/{env="prod"}:{alertname="ContainerMemoryNearLimit"}',
            "externalURL": "http://alerts.example.org:9093",
            "version": "4",
        },
    }


def test_group_without_version_parses_with_version_none() -> None:
    """A group from an old Alertmanager, without `version`, parses."""
    body = load_payload("alertmanager/firing_legacy_no_version.json")
    event = parse_one(body)
    assert event.name == "RedisEvictionsHigh"
    assert event.status == "firing"
    assert event.time == datetime(2017, 10, 4, 21, 15, 33, 918000, tzinfo=UTC)
    group = event.raw["group"]
    assert isinstance(group, dict)
    assert group["version"] is None


def test_newer_keys_are_ignored() -> None:
    """`notification_reason`, `routeLabels` and unknown alert keys do not stop parsing."""
    event = parse_one(load_payload("alertmanager/newer_keys.json"))
    assert event.name == "CryptoMinerDetected"
    assert event.priority is Priority.CRITICAL
    assert event.target == Target(name="analytics-etl")
    assert event.key == "alertmanager:f02d6b8a4c1e9375:firing:2026-01-15T19:47:02.664120+00:00"


def test_newer_keys_do_not_change_the_key() -> None:
    """The same alert with and without the newer group keys has one key."""
    body = load_payload("alertmanager/newer_keys.json")
    plain = load_payload("alertmanager/newer_keys.json")
    del plain["notification_reason"]
    del plain["routeLabels"]
    assert parse_one(plain).key == parse_one(body).key


def test_key_uses_fingerprint_status_and_starts_at() -> None:
    """With a fingerprint, the key is fingerprint, status and startsAt."""
    event = parse_one(load_payload("alertmanager/resolved_v4_full.json"))
    assert event.key == "alertmanager:3a7c1e9b20f4d685:resolved:2025-09-18T02:40:17.500000+00:00"


def test_key_without_fingerprint_uses_the_labels() -> None:
    """Without a fingerprint, the key is a hash of the labels, status and startsAt."""
    body = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    digest = body_digest(labels(body))
    event = parse_one(body)
    assert event.key == f"alertmanager:{digest}:firing:2025-02-03T19:05:09.123456+00:00"


def test_key_without_fingerprint_ignores_label_order() -> None:
    """Labels sent in another order give the same key."""
    body = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    reordered = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    alert(reordered)["labels"] = dict(reversed(list(labels(body).items())))
    assert parse_one(reordered).key == parse_one(body).key


def test_key_without_fingerprint_changes_with_a_label() -> None:
    """Alerts differing in one label are different alerts."""
    body = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    changed = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    labels(changed)["instance"] = "queue-exporter-2:9419"
    assert parse_one(changed).key != parse_one(body).key


def test_same_group_twice_gives_the_same_keys() -> None:
    """A group re-sent at the next group_interval gives the same keys."""
    first = parse(load_payload("alertmanager/mixed_statuses.json"))
    again = parse(load_payload("alertmanager/mixed_statuses.json"), RECEIVED + timedelta(minutes=5))
    assert [e.key for e in first] == [e.key for e in again]


def test_alerts_of_one_group_have_distinct_keys() -> None:
    """Two alerts of one group are two events."""
    first, second = parse(load_payload("alertmanager/mixed_statuses.json"))
    assert first.key != second.key


def test_resolution_gives_a_different_key_from_firing() -> None:
    """The same alert firing and then resolved is two events."""
    firing = load_payload("alertmanager/resolved_v4_full.json")
    firing["status"] = "firing"
    alert(firing)["status"] = "firing"
    resolved = parse_one(load_payload("alertmanager/resolved_v4_full.json"))
    assert parse_one(firing).key != resolved.key
    assert parse_one(firing).key.replace(":firing:", ":resolved:") == resolved.key


def test_new_starts_at_gives_a_different_key() -> None:
    """The same alert firing again later is a new event."""
    body = load_payload("alertmanager/newer_keys.json")
    later = load_payload("alertmanager/newer_keys.json")
    alert(later)["startsAt"] = "2026-01-16T06:00:00Z"
    assert parse_one(later).key != parse_one(body).key


@pytest.mark.parametrize(
    ("relpath", "index", "expected"),
    [
        ("alertmanager/mixed_statuses.json", 0, Priority.CRITICAL),
        ("alertmanager/resolved_v4_full.json", 0, Priority.WARNING),
        ("alertmanager/firing_v4_minimal_alerts.json", 0, Priority.INFORMATIONAL),
        ("alertmanager/firing_legacy_no_version.json", 0, Priority.WARNING),
        ("alertmanager/mixed_statuses.json", 1, Priority.WARNING),
    ],
    ids=["critical", "Warning", "info", "unknown-page", "missing"],
)
def test_severity_label_gives_the_priority(relpath: str, index: int, expected: Priority) -> None:
    """`critical`, `Warning`, `info`, an unknown and a missing severity map onto Falco's scale."""
    assert parse(load_payload(relpath))[index].priority is expected


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("critical", Priority.CRITICAL),
        ("CRITICAL", Priority.CRITICAL),
        ("error", Priority.ERROR),
        ("Warning", Priority.WARNING),
        ("info", Priority.INFORMATIONAL),
        (" info ", Priority.INFORMATIONAL),
        ("notice", Priority.NOTICE),
        ("Emergency", Priority.EMERGENCY),
        ("crit", Priority.CRITICAL),
        ("debug", Priority.DEBUG),
    ],
)
def test_severity_priority_maps_known_names(severity: str, expected: Priority) -> None:
    """Alertmanager severities and Falco level names map in any case."""
    assert severity_priority({"severity": severity}) is expected


@pytest.mark.parametrize("severity", ["page", "P1", "", "   "])
def test_severity_priority_reads_unknown_as_warning(severity: str) -> None:
    """A severity nobody knows is read as Warning."""
    assert severity_priority({"severity": severity}) is Priority.WARNING


def test_severity_priority_reads_missing_as_warning() -> None:
    """An alert without a severity label is read as Warning."""
    assert severity_priority({"alertname": "Whatever"}) is Priority.WARNING


def test_unknown_severity_is_kept_as_a_label() -> None:
    """An unknown severity stays in the labels for a person to read."""
    event = parse_one(load_payload("alertmanager/firing_legacy_no_version.json"))
    assert event.labels["severity"] == "page"


def test_container_label_names_the_target() -> None:
    """The `container` label is the target's name."""
    event = parse_one(load_payload("alertmanager/firing_v4_minimal_alerts.json"))
    assert event.target == Target(name="billing-worker")


def test_docker_prefixed_container_id_label_gives_the_bare_id() -> None:
    """A `docker://<id>` container_id label is read as the bare id."""
    event = parse_one(load_payload("alertmanager/resolved_v4_full.json"))
    assert event.target == Target(
        id="7d2e4f9a1b3c5d6e8f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d1e"
    )


def test_name_label_names_the_target() -> None:
    """The cAdvisor-style `name` label is the target's name."""
    event = parse_one(load_payload("alertmanager/firing_legacy_no_version.json"))
    assert event.target == Target(name="cache-redis")


def test_container_id_and_container_labels_give_both() -> None:
    """With both labels the target has the id and the name, and acts on the id."""
    event = parse(load_payload("alertmanager/mixed_statuses.json"))[0]
    assert event.target == Target(id="a4c8e2f61b09", name="orders-api")
    assert event.target.ref == "a4c8e2f61b09"


def test_no_container_labels_give_no_target() -> None:
    """An alert that names no container has no target."""
    body = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    del labels(body)["container"]
    assert parse_one(body).target is None


def test_configured_labels_name_the_target() -> None:
    """Custom target rules read the labels they name, in order."""
    rules = TargetRules(id_labels=("cid",), name_labels=("service", "container"))
    target = labels_target({"cid": "docker://0f1e2d3c4b5a", "container": "api"}, rules)
    assert target == Target(id="0f1e2d3c4b5a", name="api")


def test_first_name_label_with_a_value_wins() -> None:
    """An empty `container` label is passed over for `container_name`."""
    target = labels_target(
        {"container": "", "container_name": "api", "name": "other"}, DEFAULT_RULES
    )
    assert target == Target(name="api")


def test_host_container_label_is_no_target() -> None:
    """A `container` label of `host` names no container."""
    assert labels_target({"container": "host"}, DEFAULT_RULES) is None


def test_hostname_comes_from_host_labels() -> None:
    """`hostname`, `host` and `nodename` labels give the event's hostname."""
    hosts = [
        parse_one(load_payload("alertmanager/resolved_v4_full.json")).hostname,
        parse(load_payload("alertmanager/mixed_statuses.json"))[0].hostname,
        parse_one(load_payload("alertmanager/firing_legacy_no_version.json")).hostname,
    ]
    assert hosts == ["app-host-3", "node-12", "cache-host-1"]


def test_alert_without_host_labels_has_no_hostname() -> None:
    """An alert naming no host has no hostname; `instance` is not a host."""
    assert parse_one(load_payload("alertmanager/firing_v4_minimal_alerts.json")).hostname is None


def test_output_is_the_summary() -> None:
    """The summary annotation is the text a person reads."""
    event = parse_one(load_payload("alertmanager/firing_v4_minimal_alerts.json"))
    assert event.output == "Billing queue backlog keeps growing"


def test_output_falls_back_to_the_description() -> None:
    """Without a summary, the description is the text a person reads."""
    events = parse(load_payload("alertmanager/mixed_statuses.json"))
    assert events[1].output == "orders-worker restarts are back to normal"


def test_alert_without_alertname_has_an_empty_name() -> None:
    """An alert lacking `alertname` still parses, with an empty name."""
    body = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    del labels(body)["alertname"]
    assert parse_one(body).name == ""


def test_missing_alerts_is_a_422_naming_alerts() -> None:
    """A group without `alerts` is refused with the field `alerts`."""
    body = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    del body["alerts"]
    error = rejection(body)
    assert error.status == 422
    assert [e["field"] for e in error.errors] == ["alerts"]
    assert error.message.startswith("not a valid Alertmanager webhook group: alerts:")


def test_empty_alerts_is_a_422_naming_alerts() -> None:
    """A group with no alerts is refused."""
    body = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    body["alerts"] = []
    assert [e["field"] for e in rejection(body).errors] == ["alerts"]


def test_unknown_alert_status_is_a_422_naming_its_path() -> None:
    """An alert status other than firing or resolved is refused with its path."""
    body = load_payload("alertmanager/mixed_statuses.json")
    alert(body, 1)["status"] = "pending"
    error = rejection(body)
    assert error.status == 422
    assert [e["field"] for e in error.errors] == ["alerts.1.status"]


def test_unknown_group_status_is_a_422_naming_status() -> None:
    """A group status other than firing or resolved is refused."""
    body = load_payload("alertmanager/mixed_statuses.json")
    body["status"] = "partial"
    assert [e["field"] for e in rejection(body).errors] == ["status"]


def test_unreadable_starts_at_is_a_422_naming_its_alias() -> None:
    """A startsAt that is not RFC 3339 is refused under its JSON name."""
    body = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    alert(body)["startsAt"] = "03/02/2025 14:05"
    error = rejection(body)
    assert [e["field"] for e in error.errors] == ["alerts.0.startsAt"]
    assert "not an RFC 3339 time" in error.errors[0]["message"]


def test_non_string_label_is_a_422_naming_the_label() -> None:
    """A label value that is not a string is refused with the label in the path."""
    body = load_payload("alertmanager/mixed_statuses.json")
    labels(body, 1)["severity"] = 3
    assert [e["field"] for e in rejection(body).errors] == ["alerts.1.labels.severity"]


def test_alert_that_is_not_an_object_is_a_422() -> None:
    """An alert given as a string is refused with its index."""
    body = load_payload("alertmanager/firing_v4_minimal_alerts.json")
    body["alerts"] = ["QueueBacklogGrowing"]
    assert [e["field"] for e in rejection(body).errors] == ["alerts.0"]


def test_over_long_fingerprint_is_a_422() -> None:
    """A fingerprint past 256 characters is refused."""
    body = load_payload("alertmanager/resolved_v4_full.json")
    alert(body)["fingerprint"] = "f" * 257
    assert [e["field"] for e in rejection(body).errors] == ["alerts.0.fingerprint"]


def test_at_most_twenty_errors_are_listed() -> None:
    """A group wrong in many places lists the first twenty faults."""
    body: dict[str, JsonValue] = {"alerts": [{"status": "maybe"} for _ in range(25)]}
    error = rejection(body)
    assert len(error.errors) == 20
    assert error.errors[0] == {
        "field": "alerts.0.status",
        "message": "Input should be 'firing' or 'resolved'",
    }


def test_model_raises_validation_error_on_wrong_shape() -> None:
    """The group model itself raises pydantic's ValidationError."""
    with pytest.raises(ValidationError):
        AlertmanagerGroup.model_validate({"status": "firing", "alerts": "all of them"})
