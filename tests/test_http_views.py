"""The read-only event views: newest first, filters, paging, and bad parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import ClientFactory


def falco(rule: str, n: int) -> dict[str, object]:
    """A distinct Falco body."""
    return {"rule": rule, "priority": "Warning", "output": f"event {n}", "time": n}


async def test_events_are_listed_newest_first_with_their_summary(
    make_client: ClientFactory,
) -> None:
    """Each row has id, source, name, priority, status, container, host and received time."""
    client = await make_client()
    for n in range(3):
        await client.post("/v1/events/falco", json=falco(f"rule-{n}", n))
    answer = await (await client.get("/v1/events")).json()
    assert [row["name"] for row in answer["events"]] == ["rule-2", "rule-1", "rule-0"]
    row = answer["events"][0]
    expected = {"id", "seq", "source", "name", "priority", "status", "hostname", "container"}
    assert expected | {"time", "received_at"} == set(row)
    assert row["priority"] == "Warning"
    assert answer["next"] is None


async def test_events_filter_by_source_and_name(make_client: ClientFactory) -> None:
    """`source` and `name` narrow the list."""
    client = await make_client()
    await client.post("/v1/events/falco", json=falco("a", 1))
    await client.post("/v1/events/falco", json=falco("b", 2))
    group = {"alerts": [{"labels": {"alertname": "a"}, "startsAt": "2026-01-01T00:00:00Z"}]}
    await client.post("/v1/events/alertmanager", json=group)
    by_name = await (await client.get("/v1/events", params={"name": "a"})).json()
    assert {row["source"] for row in by_name["events"]} == {"falco", "alertmanager"}
    both = {"name": "a", "source": "falco"}
    narrow = await (await client.get("/v1/events", params=both)).json()
    assert len(narrow["events"]) == 1


async def test_events_page_through_with_next(make_client: ClientFactory) -> None:
    """Following `next` walks every event exactly once."""
    client = await make_client()
    for n in range(7):
        await client.post("/v1/events/falco", json=falco("r", n))
    seen: list[str] = []
    url: str | None = "/v1/events?limit=3"
    while url:
        page = await (await client.get(url)).json()
        seen.extend(row["output"] if "output" in row else row["id"] for row in page["events"])
        url = page["next"]
    assert len(seen) == 7
    assert len(set(seen)) == 7


@pytest.mark.parametrize(
    ("query", "word"),
    [("limit=0", "limit"), ("limit=abc", "limit"), ("before=-1", "before"), ("source=x", "source")],
)
async def test_bad_query_parameters_are_400_naming_the_parameter(
    make_client: ClientFactory, query: str, word: str
) -> None:
    """An out-of-range or mistyped parameter says which one."""
    client = await make_client()
    response = await client.get(f"/v1/events?{query}")
    assert response.status == 400
    assert word in (await response.json())["message"]


async def test_one_event_in_full_and_404_for_unknown(make_client: ClientFactory) -> None:
    """`/v1/events/{id}` returns the journaled event; an unknown id is a JSON 404."""
    client = await make_client()
    posted = await (await client.post("/v1/events/falco", json=falco("r", 1))).json()
    event_id = posted["events"][0]["id"]
    full = await (await client.get(f"/v1/events/{event_id}")).json()
    assert full["id"] == event_id
    assert full["raw"]["output"] == "event 1"
    missing = await client.get("/v1/events/" + "0" * 26)
    assert missing.status == 404
