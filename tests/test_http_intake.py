"""The intake endpoints through the real app: acknowledgement, idempotence and every kind of bad input."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import zlib
from typing import TYPE_CHECKING, Any

from responder.journal import EventQuery
from responder.web.state import JOURNAL

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import ClientFactory

FALCO_PATH = "/v1/events/falco"
AM_PATH = "/v1/events/alertmanager"


def falco_body(**changes: Any) -> dict[str, Any]:
    """A Falco http_output body for a shell in container `api-7`."""
    body: dict[str, Any] = {
        "hostname": "node-3",
        "output": "09:12:44.120000000: Notice A shell was spawned (container_id=5d0c9a4e8f21)",
        "priority": "Notice",
        "rule": "Terminal shell in container",
        "source": "syscall",
        "tags": ["container", "shell"],
        "time": "2026-03-02T09:12:44.120000000Z",
        "output_fields": {
            "container.id": "5d0c9a4e8f21",
            "container.name": "api-7",
            "proc.name": "sh",
            "user.uid": 0,
        },
    }
    body.update(changes)
    return body


def am_group(*alerts: dict[str, Any]) -> dict[str, Any]:
    """An Alertmanager v4 group holding the given alerts."""
    return {
        "version": "4",
        "status": "firing",
        "receiver": "responder",
        "groupKey": '{}:{alertname="ContainerRestarts"}',
        "alerts": list(alerts),
        "externalURL": "http://am.example:9093",
    }


def am_alert(container: str, status: str = "firing", **changes: Any) -> dict[str, Any]:
    """One alert about `container`."""
    alert: dict[str, Any] = {
        "status": status,
        "labels": {"alertname": "ContainerRestarts", "container": container, "severity": "error"},
        "annotations": {"summary": f"{container} restarted 4 times in 10m"},
        "startsAt": "2026-03-02T09:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": f"fp-{container}",
    }
    alert.update(changes)
    return alert


async def test_falco_event_is_acknowledged_with_its_journaled_id(
    make_client: ClientFactory,
) -> None:
    """A Falco body gets 202 and the id under which the journal holds it."""
    client = await make_client()
    response = await client.post(FALCO_PATH, json=falco_body())
    assert response.status == 202
    answer = await response.json()
    assert answer["status"] == "accepted"
    [accepted] = answer["events"]
    event = await client.app[JOURNAL].event(accepted["id"])
    assert event is not None
    assert event.name == "Terminal shell in container"
    assert event.target is not None
    assert event.target.name == "api-7"


async def test_alertmanager_group_becomes_one_event_per_alert_with_own_status(
    make_client: ClientFactory,
) -> None:
    """A group of a firing and a resolved alert is journaled as two events, each with its status."""
    client = await make_client()
    group = am_group(am_alert("web-1"), am_alert("web-2", status="resolved"))
    response = await client.post(AM_PATH, json=group)
    assert response.status == 202
    ids = [e["id"] for e in (await response.json())["events"]]
    listed = await client.get("/v1/events", params={"source": "alertmanager"})
    rows = {row["id"]: row for row in (await listed.json())["events"]}
    assert [rows[i]["status"] for i in ids] == ["firing", "resolved"]
    assert [rows[i]["container"]["name"] for i in ids] == ["web-1", "web-2"]


async def test_resent_alertmanager_group_is_journaled_once(make_client: ClientFactory) -> None:
    """Alertmanager's re-send of the same group is answered 200 with the original ids."""
    client = await make_client()
    group = am_group(am_alert("web-1"))
    first = await (await client.post(AM_PATH, json=group)).json()
    again = await client.post(AM_PATH, json=group)
    assert again.status == 200
    answer = await again.json()
    assert answer["status"] == "already accepted"
    assert answer["events"] == [{"id": first["events"][0]["id"], "duplicate": True}]


async def test_falcosidekick_resend_with_same_uuid_is_a_duplicate(
    make_client: ClientFactory,
) -> None:
    """Falcosidekick's uuid identifies the event even if the body text differs."""
    client = await make_client()
    uuid = "0d2f2b8e-6f55-4c0e-9a8c-3a0e2c0f9b11"
    await client.post(FALCO_PATH, json=falco_body(uuid=uuid))
    again = await client.post(FALCO_PATH, json=falco_body(uuid=uuid, hostname="other"))
    assert (await again.json())["events"][0]["duplicate"] is True


async def test_concurrent_identical_bodies_are_journaled_once(make_client: ClientFactory) -> None:
    """Twenty concurrent sends of one body end up as one journal row, all answered 2xx."""
    client = await make_client()
    responses = await asyncio.gather(
        *(client.post(FALCO_PATH, json=falco_body()) for _ in range(20))
    )
    assert all(r.status in (200, 202) for r in responses)
    ids = {(await r.json())["events"][0]["id"] for r in responses}
    assert len(ids) == 1
    rows = await client.app[JOURNAL].events(EventQuery())
    assert len(rows) == 1


async def test_malformed_json_is_400(make_client: ClientFactory) -> None:
    """A body that is not JSON is refused with 400 and the position of the fault."""
    client = await make_client()
    response = await client.post(FALCO_PATH, data=b'{"rule": ')
    assert response.status == 400
    assert "not valid JSON" in (await response.json())["message"]


async def test_invalid_utf8_is_400(make_client: ClientFactory) -> None:
    """Bytes that are not UTF-8 are refused with 400, not a crash."""
    client = await make_client()
    response = await client.post(FALCO_PATH, data=b'{"rule": "\xff\xfe"}')
    assert response.status == 400
    assert "UTF-8" in (await response.json())["message"]


async def test_nan_is_not_json(make_client: ClientFactory) -> None:
    """NaN, which Python's json would accept, is refused as the invalid JSON it is."""
    client = await make_client()
    response = await client.post(FALCO_PATH, data=b'{"rule": "x", "priority": NaN}')
    assert response.status == 400


async def test_deeply_nested_body_is_422_not_a_crash(make_client: ClientFactory) -> None:
    """Nesting deep enough to exhaust the parser's recursion is a 422 that says so."""
    client = await make_client()
    response = await client.post(FALCO_PATH, data=b"[" * 100_000 + b"]" * 100_000)
    assert response.status == 422
    assert "nests deeper than 64 levels" in (await response.json())["message"]


async def test_empty_body_is_400(make_client: ClientFactory) -> None:
    """An empty POST says a JSON object was expected."""
    client = await make_client()
    response = await client.post(FALCO_PATH, data=b"")
    assert response.status == 400


async def test_json_array_is_422(make_client: ClientFactory) -> None:
    """Valid JSON that is not an object is the wrong shape."""
    client = await make_client()
    response = await client.post(FALCO_PATH, json=[falco_body()])
    assert response.status == 422
    assert "JSON object" in (await response.json())["message"]


async def test_wrong_shape_is_422_naming_the_field_path(make_client: ClientFactory) -> None:
    """A bad alert inside a group is reported by its path, e.g. `alerts.1.labels`."""
    client = await make_client()
    group = am_group(am_alert("web-1"), am_alert("web-2", labels=["not", "a", "map"]))
    response = await client.post(AM_PATH, json=group)
    assert response.status == 422
    answer = await response.json()
    assert answer["errors"][0]["field"] == "alerts.1.labels"
    assert "alerts.1.labels" in answer["message"]


async def test_unknown_priority_is_422(make_client: ClientFactory) -> None:
    """A priority outside Falco's scale names the field and the accepted levels."""
    client = await make_client()
    response = await client.post(FALCO_PATH, json=falco_body(priority="Severe"))
    assert response.status == 422
    answer = await response.json()
    assert answer["errors"][0]["field"] == "priority"
    assert "Emergency" in answer["errors"][0]["message"]


async def test_empty_alert_list_is_422(make_client: ClientFactory) -> None:
    """A group without alerts is refused, since nothing could be journaled."""
    client = await make_client()
    response = await client.post(AM_PATH, json=am_group())
    assert response.status == 422


async def test_body_over_the_limit_is_413(make_client: ClientFactory) -> None:
    """A body larger than `max_body_bytes` is refused before it is parsed."""
    client = await make_client()
    big = json.dumps(falco_body(output="x" * (2 << 20))).encode()
    response = await client.post(FALCO_PATH, data=io.BytesIO(big))
    assert response.status == 413
    assert "limit" in (await response.json())["message"]


async def test_chunked_body_over_the_limit_is_413(make_client: ClientFactory) -> None:
    """Without a Content-Length the limit still holds while the body streams in."""
    client = await make_client()

    async def chunks() -> Any:
        for _ in range(40):
            yield b" " * 65536

    response = await client.post(FALCO_PATH, data=chunks())
    assert response.status == 413


async def test_a_compressed_body_is_read_and_a_corrupt_one_is_400(
    make_client: ClientFactory,
) -> None:
    """Regression: gzip or deflate that did not decompress answered 500.

    Cut short, it was aiohttp's bare "400 deflate" in plain text.
    """
    client = await make_client()
    body = json.dumps(falco_body()).encode()
    packers: dict[str, Callable[[bytes], bytes]] = {
        "gzip": gzip.compress,
        "x-gzip": gzip.compress,
        "deflate": zlib.compress,
        "identity, deflate": lambda data: zlib.compress(data)[2:-4],  # the raw stream
        "deflate, gzip": lambda data: gzip.compress(zlib.compress(data)),
    }
    for encoding, pack in packers.items():
        headers = {"Content-Encoding": encoding, "Content-Type": "application/json"}
        accepted = await client.post(FALCO_PATH, data=pack(body), headers=headers)
        assert accepted.status in (200, 202), encoding  # the same event again: 200
        [event] = (await accepted.json())["events"]
        journaled = await client.app[JOURNAL].event(event["id"])
        assert journaled is not None
        assert journaled.output == falco_body()["output"]
    for encoding, data, status, message in (
        ("gzip", b"not gzip", 400, "body is not valid gzip: Error -3 while decompressing data"),
        ("deflate", zlib.compress(body)[:-6], 400, "deflate body is cut short"),
        ("gzip", gzip.compress(body) + b"tail", 400, "4 bytes follow the end of the gzip stream"),
        ("br", body, 415, "Content-Encoding 'br' is not supported"),
        ("gzip, gzip, gzip, gzip", body, 415, "Content-Encoding has 4 codings"),
    ):
        headers = {"Content-Encoding": encoding, "Content-Type": "application/json"}
        refused = await client.post(FALCO_PATH, data=data, headers=headers)
        assert refused.status == status, encoding
        assert (await refused.json())["message"].startswith(message)


async def test_a_gzip_bomb_is_413_at_the_limit_decompressed(make_client: ClientFactory) -> None:
    """The limit counts the bytes after decompression: 200 KB of gzip that unpacks to 200 MB."""
    client = await make_client()
    bomb = gzip.compress(b'{"output": "' + b"a" * (200 << 20) + b'"}')
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    response = await client.post(FALCO_PATH, data=bomb, headers=headers)
    assert response.status == 413
    assert (await response.json())["message"] == (
        "body exceeds the limit of 1048576 bytes once gzip is undone"
    )


async def test_every_error_body_is_json_with_a_message(make_client: ClientFactory) -> None:
    """Unknown paths and methods answer JSON too, with the allowed methods on a 405."""
    client = await make_client()
    missing = await client.get("/v1/nothing-here")
    assert missing.status == 404
    assert (await missing.json())["message"]
    wrong_method = await client.get(FALCO_PATH)
    assert wrong_method.status == 405
    assert "POST" in wrong_method.headers["Allow"]
    assert (await wrong_method.json())["error"] == "method not allowed"


async def test_invalid_requests_are_counted_by_outcome(make_client: ClientFactory) -> None:
    """The metrics count accepted, duplicate and invalid events by source."""
    client = await make_client()
    await client.post(FALCO_PATH, json=falco_body())
    await client.post(FALCO_PATH, json=falco_body())
    await client.post(FALCO_PATH, data=b"nope")
    text = await (await client.get("/metrics")).text()
    assert 'responder_events_received_total{outcome="accepted",source="falco"} 1.0' in text
    assert 'responder_events_received_total{outcome="duplicate",source="falco"} 1.0' in text
    assert 'responder_events_received_total{outcome="invalid",source="falco"} 1.0' in text
    assert "responder_journal_commit_seconds_bucket" in text


async def test_string_number_fields_keep_their_json_types(make_client: ClientFactory) -> None:
    """Output field values come back from the journal with the types they were sent with."""
    client = await make_client()
    fields = {"user.uid": 0, "proc.aname[7]": None, "evt.arg.flags": "EXE_WRITABLE", "x": 1.5}
    response = await client.post(FALCO_PATH, json=falco_body(output_fields=fields))
    event_id = (await response.json())["events"][0]["id"]
    stored = await (await client.get(f"/v1/events/{event_id}")).json()
    assert stored["fields"] == fields
    assert json.dumps(stored["fields"]) == json.dumps(fields)
