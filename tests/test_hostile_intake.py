"""Hostile bodies on both intake endpoints, through the real app on a real port: never a 5xx.

Hypothesis does not run async tests, so one app per module is served by its own event loop in
a background thread and every example is a plain HTTP request (`http.client`). Each answer must
be one of the statuses intake gives, as JSON whose message names the problem; an accepted body
must read back from the journal exactly as sent; the server must still answer `/healthz`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import http.client
import json
import math
import re
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from _hostile import (
    HOSTILE_PIECES,
    JSON_KEYS,
    apply,
    canonical,
    contains_lone_surrogate,
    hostile_settings,
    hostile_text,
    json_scalars,
    json_values,
    mutations,
    nonempty_hostile_text,
)
from aiohttp import web
from hypothesis import example, given
from hypothesis import strategies as st

from responder.app import create_app
from responder.intake.body import MAX_NESTING
from responder.settings import ServerSettings, Settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

FALCO = "/v1/events/falco"
AM = "/v1/events/alertmanager"
PATHS = (FALCO, AM)
LIMIT = 64 * 1024
"""`server.max_body_bytes` of the app under test: small, so bodies at the limit are cheap."""
STATUSES = {200, 202, 400, 401, 408, 413, 415, 422}
MAX_MESSAGE = 2_000
"""An error message is for a person: it names the problem, it does not echo the body back."""
EVENT_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
MAX_DEPTH = MAX_NESTING
"""Nesting intake accepts: deeper bodies could not be read back once journaled (an event
nests the body a level or two deeper, and the reader stops at 200 levels)."""

SETTINGS = hostile_settings(200)


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, content type and the body parsed as JSON."""

    status: int
    content_type: str
    body: Any


class LiveServer:
    """The real app on 127.0.0.1, served by an event loop of its own in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-app")
        self._runner: web.AppRunner | None = None
        self.port = 0

    def start(self) -> None:
        """Start the loop and the app; returns once the port is bound."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)

    async def _start(self) -> None:
        self._runner = web.AppRunner(create_app(self._settings), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # the one way to learn the port the OS picked
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Shut the app down cleanly, then stop the loop and join the thread."""
        if self._runner is not None:
            future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            future.result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        headers: dict[str, str] | None = None,
        chunked: bool = False,
    ) -> Answer:
        """One request on a fresh connection; the answer's body parsed as JSON."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        with contextlib.closing(connection):
            sent: bytes | Iterator[bytes] | None = body
            if chunked and body is not None:
                sent = iter([body[i : i + 4096] for i in range(0, len(body), 4096)])
            connection.request(
                method, path, body=sent, headers=headers or {}, encode_chunked=chunked
            )
            response = connection.getresponse()
            data = response.read()
            content_type = response.getheader("Content-Type", "")
            return Answer(response.status, content_type, json.loads(data) if data else None)

    def post(self, path: str, body: bytes, **options: Any) -> Answer:
        """POST a body as JSON (unless the headers say otherwise)."""
        headers = {"Content-Type": "application/json", **options.pop("headers", {})}
        return self.request("POST", path, body, headers=headers, **options)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One app for the module: defaults, a small body limit, no playbooks, no credential."""
    root: Path = tmp_path_factory.mktemp("hostile-intake")
    settings = Settings(
        data_dir=root / "data",
        playbooks=root / "playbooks",
        server=ServerSettings(max_body_bytes=LIMIT),
    )
    live = LiveServer(settings)
    live.start()
    try:
        yield live
    finally:
        live.stop()


# What every answer must be.


def check_answer(answer: Answer) -> None:
    """A status intake gives, as JSON; an error says what is wrong in a few words."""
    assert answer.status in STATUSES, answer
    assert answer.content_type.startswith("application/json"), answer
    assert isinstance(answer.body, dict), answer
    if answer.status >= 400:
        assert isinstance(answer.body.get("error"), str), answer
        message = answer.body.get("message")
        assert isinstance(message, str), answer
        assert message.strip(), answer
        assert len(message) <= MAX_MESSAGE, f"{len(message)} characters: {message[:300]}"
        for error in answer.body.get("errors", []):
            assert isinstance(error["field"], str), error
            assert isinstance(error["message"], str), error
            assert len(error["message"]) <= MAX_MESSAGE, error["message"][:300]
        expected = {
            400: ("JSON", "UTF-8", "empty", "number", "could not be read", "gzip", "deflate"),
            415: ("Content-Encoding",),
            413: ("limit",),
            422: ("JSON object", "not a valid", "nests deeper"),
        }.get(answer.status, ())
        assert not expected or any(word in message for word in expected), message
    else:
        assert answer.body["status"] in {"accepted", "already accepted"}, answer
        assert answer.body["events"], answer
        for event in answer.body["events"]:
            assert EVENT_ID.fullmatch(event["id"]), event
            assert isinstance(event["duplicate"], bool), event


def check_alive(server: LiveServer) -> None:
    """The server still answers after whatever it was sent."""
    answer = server.request("GET", "/healthz")
    assert answer.status == 200
    assert answer.body == {"status": "ok"}


def stored(server: LiveServer, event_id: str) -> dict[str, Any]:
    """The journaled event, as `GET /v1/events/{id}` shows it."""
    answer = server.request("GET", f"/v1/events/{event_id}")
    assert answer.status == 200, answer
    assert isinstance(answer.body, dict)
    return answer.body


def encode(value: Any) -> bytes:
    """JSON as senders write it; a lone surrogate is sent as its escape, refused as not text."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def error_fields(answer: Answer) -> list[str]:
    """The `field` of every error in a 422."""
    return [error["field"] for error in answer.body.get("errors", [])]


# Arbitrary JSON.


@SETTINGS
@given(value=json_values(surrogates=True), path=st.sampled_from(PATHS))
def test_arbitrary_json_is_refused_or_accepted_never_a_5xx(
    server: LiveServer, value: Any, path: str
) -> None:
    """Any JSON document: 400 if it holds a lone surrogate, 422 unless an object, never a 5xx."""
    answer = server.post(path, encode(value))
    check_answer(answer)
    if contains_lone_surrogate(value):
        assert answer.status == 400, answer
    elif not isinstance(value, dict):
        assert answer.status == 422, answer
    check_alive(server)


@SETTINGS
@given(data=st.binary(max_size=2_048), path=st.sampled_from(PATHS))
def test_arbitrary_bytes_are_refused_with_a_clear_error(
    server: LiveServer, data: bytes, path: str
) -> None:
    """Random bytes, mostly neither UTF-8 nor JSON: a 4xx that says which."""
    answer = server.post(path, data)
    check_answer(answer)
    check_alive(server)


# Falco-shaped bodies.

_LEVELS = ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational")
_FALCO_KEYS = ("rule", "priority", "output", "time", "hostname", "source", "tags")
_FALCO_KEYS_ALL = (*_FALCO_KEYS, "output_fields", "uuid")
_OFFSETS = st.timedeltas(
    min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
).map(timezone)
GOOD_TIMES = st.one_of(
    st.builds(lambda t, tz: t.replace(tzinfo=tz).isoformat(), st.datetimes(), _OFFSETS),
    st.datetimes().map(datetime.isoformat),
    st.integers(0, 2**62),
    st.floats(0, 1e10),
    st.sampled_from(["0001-01-01T00:00:00Z", "2026-03-02T09:12:44.120000000Z"]),
)
"""Times in every shape senders use, each one a time (or Go's zero time, meaning none)."""
ODD_TIMES = st.one_of(
    st.sampled_from(
        [
            "9999-12-31T23:59:59-01:00",
            "0001-01-01T00:00:00+01:00",
            "2026-02-30T00:00:00Z",
            "2026-03-02T09:12:44.120000000123456Z",
            "1" * 5_000,
            "-" + "9" * 40,
            "   ",
            "now",
        ]
    ),
    st.integers(),
    st.sampled_from([10**400, -(10**19), 2**63, -(2**62)]),
    st.floats(allow_nan=False, allow_infinity=False),
)
"""Times out of range, impossible dates, words: each a 422 on its own field."""


def falco_fields() -> st.SearchStrategy[dict[str, Any]]:
    """`output_fields` with dotted and bracketed keys, container fields and values of any type."""
    keys = st.one_of(st.sampled_from(JSON_KEYS), hostile_text(max_pieces=2, long_runs=False))
    return st.dictionaries(keys, json_values(max_leaves=6), max_size=8)


@st.composite
def falco_bodies(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    """A valid Falco body, then some of its keys replaced by wrong types, nulls or removed."""
    level = draw(st.sampled_from(_LEVELS))
    body: dict[str, Any] = {
        "rule": draw(nonempty_hostile_text(max_size=1_024)),
        "priority": draw(st.sampled_from([level, level.upper(), level.lower()])),
        "output": draw(hostile_text()),
        "hostname": draw(hostile_text(max_pieces=3)),
        "source": draw(st.sampled_from(["syscall", "k8s_audit", "{{ 7*7 }}"])),
        "tags": draw(st.lists(hostile_text(max_pieces=2, long_runs=False), max_size=5)),
        "output_fields": draw(falco_fields()),
    }
    if draw(st.booleans()):
        body["time"] = draw(GOOD_TIMES)
    if draw(st.booleans()):
        body["uuid"] = str(draw(st.uuids()))
    changes = draw(mutations(_FALCO_KEYS_ALL, {"time": ODD_TIMES}))
    return apply(body, changes), set(changes)


def check_falco_round_trip(server: LiveServer, body: dict[str, Any], event_id: str) -> None:
    """The journaled event holds every value as sent: text literally, numbers with their types."""
    event = stored(server, event_id)
    assert event["source"] == "falco"
    assert event["name"] == body["rule"]
    assert event["output"] == (body.get("output") or "")
    assert event["hostname"] == (body.get("hostname") or None)
    assert event["tags"] == (body.get("tags") or [])
    assert canonical(event["fields"]) == canonical(body.get("output_fields") or {})
    assert canonical(event["raw"]) == canonical(body)


@SETTINGS
@given(case=falco_bodies())
# Regression: Python's astimezone overflowed past year 9999 (OverflowError, a 500).
@example(
    case=({"rule": "r", "priority": "Emergency", "time": "9999-12-31T23:59:59-01:00"}, {"time"})
)
# Regression: the 422 quoted the whole priority back (5000 characters).
@example(case=({"rule": "r", "priority": "A" * 5_000}, {"priority"}))
def test_falco_bodies_with_wrong_types_get_422_naming_the_field(
    server: LiveServer, case: tuple[dict[str, Any], set[str]]
) -> None:
    """Wrong types and nulls anywhere: a 422 naming only broken fields, or the event verbatim."""
    body, changed = case
    data = encode(body)
    answer = server.post(FALCO, data)
    check_answer(answer)
    assert answer.status in ({413} if len(data) > LIMIT else {200, 202, 422}), answer
    if answer.status == 422:
        for field in error_fields(answer):
            assert field.split(".")[0] in changed, (field, changed)
    elif answer.status == 202:
        check_falco_round_trip(server, body, answer.body["events"][0]["id"])
    check_alive(server)


# Alertmanager-shaped bodies.

_GROUP_KEYS = ("version", "status", "receiver", "groupKey", "externalURL", "alerts")
_ALERT_KEYS = (
    "status",
    "labels",
    "annotations",
    "startsAt",
    "endsAt",
    "generatorURL",
    "fingerprint",
)


def label_maps() -> st.SearchStrategy[dict[str, str]]:
    """Labels or annotations: hostile names and values, the ones the responder reads included."""
    names = st.one_of(
        st.sampled_from(["alertname", "severity", "container", "container_id", "name", "hostname"]),
        st.sampled_from(JSON_KEYS),
        hostile_text(max_pieces=2, long_runs=False),
    )
    return st.dictionaries(names, hostile_text(max_pieces=4), max_size=6)


@st.composite
def alerts(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    """One alert, valid, then some keys broken."""
    alert: dict[str, Any] = {
        "status": draw(st.sampled_from(["firing", "resolved"])),
        "labels": draw(label_maps()),
        "annotations": draw(label_maps()),
        "startsAt": draw(GOOD_TIMES),
        "endsAt": "0001-01-01T00:00:00Z",
    }
    if draw(st.booleans()):
        alert["fingerprint"] = draw(st.text(alphabet="0123456789abcdef", min_size=16, max_size=16))
    changes = draw(mutations(_ALERT_KEYS, {"startsAt": ODD_TIMES, "endsAt": ODD_TIMES}))
    return apply(alert, changes), set(changes)


@st.composite
def alertmanager_bodies(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    """A v4 group of one to three alerts, with group and alert keys broken."""
    drawn = draw(st.lists(alerts(), min_size=1, max_size=3))
    broken = {f"alerts.{index}.{key}" for index, (_, keys) in enumerate(drawn) for key in keys}
    group: dict[str, Any] = {
        "version": "4",
        "status": "firing",
        "receiver": draw(hostile_text(max_pieces=2, long_runs=False)),
        "groupKey": draw(hostile_text(max_pieces=2, long_runs=False)),
        "externalURL": "http://am.example:9093",
        "alerts": [alert for alert, _ in drawn],
        "commonLabels": draw(label_maps()),
    }
    changes = draw(mutations(_GROUP_KEYS))
    return apply(group, changes), broken | set(changes)


def check_alertmanager_round_trip(
    server: LiveServer, body: dict[str, Any], events: list[dict[str, Any]]
) -> None:
    """One event per alert, each holding the alert's labels and annotations exactly."""
    assert len(events) == len(body["alerts"])
    for alert, accepted in zip(body["alerts"], events, strict=True):
        if accepted["duplicate"]:
            continue
        event = stored(server, accepted["id"])
        assert event["source"] == "alertmanager"
        assert event["labels"] == alert.get("labels", {})
        assert event["annotations"] == alert.get("annotations", {})
        assert event["name"] == alert.get("labels", {}).get("alertname", "")
        assert event["status"] in {"firing", "resolved"}
        assert canonical(event["raw"]["alert"]) == canonical(alert)


@SETTINGS
@given(case=alertmanager_bodies())
def test_alertmanager_groups_with_wrong_types_get_422_naming_the_field(
    server: LiveServer, case: tuple[dict[str, Any], set[str]]
) -> None:
    """Wrong types and nulls in the group or its alerts: a 422 naming them, or every alert kept."""
    body, broken = case
    data = encode(body)
    answer = server.post(AM, data)
    check_answer(answer)
    assert answer.status in ({413} if len(data) > LIMIT else {200, 202, 422}), answer
    if answer.status == 422:
        for field in error_fields(answer):
            assert any(field == b or field.startswith(f"{b}.") for b in broken), (field, broken)
    elif answer.status == 202:
        check_alertmanager_round_trip(server, body, answer.body["events"])
    check_alive(server)


# Template syntax is data.


@SETTINGS
@given(text=st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=6).map("".join))
def test_template_syntax_in_every_falco_field_is_stored_literally(
    server: LiveServer, text: str
) -> None:
    """`{{ 7*7 }}` in the rule, output, host, tags and field keys and values is kept as written."""
    body = {
        "rule": f"rule {text}",
        "priority": "Critical",
        "output": text,
        "hostname": text,
        "tags": [text],
        "output_fields": {text: text, "container.name": text, "container.id": text},
    }
    answer = server.post(FALCO, encode(body))
    check_answer(answer)
    assert answer.status in {200, 202}, answer
    if answer.status == 202:
        check_falco_round_trip(server, body, answer.body["events"][0]["id"])


# Bytes that are not UTF-8, numbers beyond range, nesting beyond the limit, sizes at the limit.

_INVALID_UTF8 = st.sampled_from(
    [
        b"\xff",
        b"\xfe\xff",
        b"\x80",
        b"\xc0\x80",  # overlong NUL
        b"\xc1\xbf",
        b"\xe0\x80\x80",
        b"\xed\xa0\x80",  # a UTF-16 surrogate, encoded
        b"\xed\xbf\xbf",
        b"\xf4\x90\x80\x80",  # beyond U+10FFFF
        b"\xf8\x88\x80\x80\x80",
        b"\xe2\x82",  # truncated
        b"\xf0\x9f\x92",
    ]
)


@SETTINGS
@given(
    around=st.tuples(
        st.text(alphabet="abc {}%", max_size=10), st.text(alphabet="xyz ", max_size=10)
    ),
    bad=_INVALID_UTF8,
    field=st.sampled_from(["rule", "output", "hostname"]),
    path=st.sampled_from(PATHS),
)
def test_invalid_utf8_in_a_string_is_400_naming_utf8(
    server: LiveServer, around: tuple[str, str], bad: bytes, field: str, path: str
) -> None:
    """Bytes that are not UTF-8 inside a string: 400, and the message says UTF-8."""
    prefix, suffix = around
    marker = "@@BAD@@"
    body = encode({"rule": "r", "priority": "Notice", field: f"{prefix}{marker}{suffix}"})
    answer = server.post(path, body.replace(marker.encode(), bad))
    check_answer(answer)
    assert answer.status == 400, answer
    assert "UTF-8" in answer.body["message"], answer.body


_NUMBER = st.one_of(
    st.from_regex(r"\A-?[1-9][0-9]{0,2}(\.[0-9]{1,3})?[eE][+-]?[0-9]{1,4}\Z"),
    st.integers(300, 400).map(lambda n: "9" * n),
    st.integers(300, 400).map(lambda n: "1" + "0" * n + ".5"),
    st.integers(4_250, 4_400).map(lambda n: "7" * n),
    st.sampled_from(["-0", "-0.0", "0e0", "1e308", "1e309", "-1e309", "2e-400", "1E+400"]),
)


@SETTINGS
@given(literal=_NUMBER, where=st.sampled_from(["field", "extra"]))
# Regression: pydantic-core read these as infinity, journaled as null.
@example(literal="1" + "0" * 309 + ".5", where="field")
@example(literal="1e309", where="extra")
def test_numbers_beyond_the_double_range_are_400_and_others_round_trip(
    server: LiveServer, literal: str, where: str
) -> None:
    """A number no JSON reader can hold (it overflows to infinity): 400; others kept exactly."""
    try:
        expected = json.loads(literal)
    except ValueError:  # more digits than any reader converts: refused too
        expected = math.inf
    value_json = f'{{"x": {literal}}}' if where == "field" else "{}"
    extra = f', "extra": {literal}' if where == "extra" else ""
    text = f'{{"rule": "Numbers", "priority": "Notice", "output_fields": {value_json}{extra}}}'
    answer = server.post(FALCO, text.encode())
    check_answer(answer)
    if isinstance(expected, float) and not math.isfinite(expected):
        assert answer.status == 400, answer
        assert "number" in answer.body["message"], answer.body
        return
    assert answer.status in {200, 202}, answer
    if answer.status == 202:
        event = stored(server, answer.body["events"][0]["id"])
        got = event["fields"]["x"] if where == "field" else event["raw"]["extra"]
        assert canonical(got) == canonical(expected)


@st.composite
def nested(draw: st.DrawFn) -> tuple[bytes, int]:
    """A Falco body with arrays or objects nested `depth` levels, at the top or in a field."""
    depth = draw(
        st.one_of(
            st.integers(1, MAX_DEPTH + 2),
            st.integers(MAX_DEPTH - 2, 250),
            st.integers(250, 100_000),
        )
    )
    kind = draw(st.sampled_from(["array", "object", "mixed"]))
    opening, closing = {
        "array": ("[", "]"),
        "object": ('{"a":', "}"),
        "mixed": ('[{"a":', "}]"),
    }[kind]
    levels = depth if kind != "mixed" else max(1, depth // 2)
    inner = opening * levels + draw(json_scalars().map(json.dumps)) + closing * levels
    depth = levels * (2 if kind == "mixed" else 1)
    place = draw(st.sampled_from(["top", "field"]))
    if place == "top":
        return inner.encode(), depth
    head = '{"rule": "Deep", "priority": "Notice", "output_fields": {"deep": '
    return (head + inner + "}}").encode(), depth + 2


@SETTINGS
@given(case=nested(), path=st.sampled_from(PATHS))
def test_nesting_beyond_the_limit_is_refused_and_below_it_is_kept(
    server: LiveServer, case: tuple[bytes, int], path: str
) -> None:
    """Nesting past the bound is a 422 that says so (never acknowledged); shallower is read."""
    body, depth = case
    cut = len(body) > LIMIT
    if cut:
        body = body[:LIMIT]  # no longer JSON: a 400, or a 422 if the parser meets the depth first
    answer = server.post(path, body)
    check_answer(answer)
    nests = "nests deeper" in str(answer.body.get("message"))
    if cut:
        assert answer.status == 400 or (answer.status == 422 and nests), answer
    elif depth > MAX_DEPTH:
        assert answer.status == 422, answer
        assert nests or "expected a JSON object" in answer.body["message"], answer
    else:
        assert answer.status != 400, answer
        assert not nests, answer
    check_alive(server)


@hostile_settings(40)
@given(
    excess=st.one_of(st.integers(-64, 64), st.sampled_from([-LIMIT // 2, LIMIT, 3 * LIMIT])),
    chunked=st.booleans(),
    path=st.sampled_from(PATHS),
)
def test_bodies_up_to_the_limit_are_read_and_beyond_it_are_413(
    server: LiveServer, excess: int, chunked: bool, path: str
) -> None:
    """A body of exactly `max_body_bytes` is read; one byte more is a 413 naming the limit."""
    size = LIMIT + excess
    if path == FALCO:
        head = b'{"rule": "Big", "priority": "Notice", "output": "'
        tail = b'"}'
    else:
        head = b'{"alerts": [{"labels": {"alertname": "Big"}, "annotations": {"summary": "'
        tail = b'"}}]}'
    body = head + b"x" * (size - len(head) - len(tail)) + tail
    assert len(body) == size
    answer = server.post(path, body, chunked=chunked)
    check_answer(answer)
    if size > LIMIT:
        assert answer.status == 413, answer
    else:
        assert answer.status in {200, 202}, answer
    check_alive(server)


@hostile_settings(30)
@given(
    content_type=st.sampled_from(
        ["text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=latin-1"]
    ),
    body=st.sampled_from([b"rule=x&priority=Notice", b'{"rule": "r", "priority": "Notice"}']),
)
def test_any_content_type_is_answered_by_what_the_body_is(
    server: LiveServer, content_type: str, body: bytes
) -> None:
    """The Content-Type header does not change the outcome: the body is read as JSON or refused."""
    answer = server.post(FALCO, body, headers={"Content-Type": content_type})
    check_answer(answer)
    assert answer.status in ({200, 202} if body.startswith(b"{") else {400}), answer


_PACKERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
}
_ENCODINGS = [*_PACKERS, "identity", "compress", "gzip, deflate", "x-unknown"]
_JSON_OR_NOT = [b'{"rule": "r", "priority": "Notice", "output": "o"}', b"{", b""]


@st.composite
def encoded_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """A Content-Encoding and a body: compressed or not, whole or cut short, with noise after."""
    encoding = draw(st.sampled_from(_ENCODINGS))
    data = draw(st.sampled_from(_JSON_OR_NOT))
    if encoding in _PACKERS and draw(st.booleans()):
        data = _PACKERS[encoding](data)
    cut = draw(st.integers(min_value=0, max_value=40))
    return encoding, data[: max(len(data) - cut, 0)] + draw(st.binary(max_size=64))


@hostile_settings(60)
@given(case=encoded_bodies())
def test_any_content_encoding_is_decoded_or_refused_with_a_clear_error(
    server: LiveServer, case: tuple[str, bytes]
) -> None:
    """Regression: gzip or deflate bytes that did not decompress answered 500."""
    encoding, data = case
    answer = server.post(FALCO, data, headers={"Content-Encoding": encoding})
    check_answer(answer)
    check_alive(server)
