"""`GET /v1/incidents/{id}/report` through the real app: formats, negotiation, and errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _builders import make_event
from _reports import INCIDENT_ID, hostile_event, incident, outbox_record, seed

from responder.notifications.outbox import NewMessage
from responder.web.state import OUTBOX

if TYPE_CHECKING:
    from conftest import ClientFactory

    from responder.settings import Settings

REPORT = f"/v1/incidents/{INCIDENT_ID}/report"


@pytest.fixture
async def seeded(settings: Settings) -> None:
    """The app's data directory holds one contained incident and its journaled event."""
    settings.data_dir.mkdir(parents=True)
    event = make_event(output="shell in web")
    await seed(settings.data_dir, incident(settings.data_dir, event), event)


@pytest.mark.usefixtures("seeded")
async def test_report_is_json_by_default(make_client: ClientFactory) -> None:
    """Without a format or an Accept preference the report is the JSON model."""
    client = await make_client()
    response = await client.get(REPORT)
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["incident"]["id"] == INCIDENT_ID
    assert body["release"]["command"].startswith("responder release --data-dir /")
    assert body["release"]["command"].endswith(f" {INCIDENT_ID}")


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("query", "content_type", "start"),
    [
        ("md", "text/markdown", f"# Incident report `{INCIDENT_ID}`"),
        ("html", "text/html", "<!DOCTYPE html>"),
        ("json", "application/json", "{"),
    ],
)
async def test_format_query_picks_the_format(
    make_client: ClientFactory, query: str, content_type: str, start: str
) -> None:
    """`?format=md|html|json` answers that format, in UTF-8."""
    client = await make_client()
    response = await client.get(REPORT, params={"format": query})
    assert response.status == 200
    assert response.content_type == content_type
    assert response.charset == "utf-8"
    assert (await response.text()).startswith(start)


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("text/html,application/xhtml+xml,*/*;q=0.8", "text/html"),
        ("text/markdown", "text/markdown"),
        ("*/*", "application/json"),
    ],
)
async def test_accept_header_picks_the_format(
    make_client: ClientFactory, accept: str, content_type: str
) -> None:
    """A browser gets HTML, a Markdown client Markdown, anyone else JSON."""
    client = await make_client()
    response = await client.get(REPORT, headers={"Accept": accept})
    assert response.content_type == content_type


@pytest.mark.usefixtures("seeded")
async def test_html_report_forbids_scripts_and_remote_loads(make_client: ClientFactory) -> None:
    """The HTML answer carries a Content-Security-Policy and is never sniffed or cached."""
    client = await make_client()
    response = await client.get(REPORT, params={"format": "html"})
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.usefixtures("seeded")
async def test_report_lists_the_incidents_notifications(make_client: ClientFactory) -> None:
    """Notifications queued in the app's outbox appear with their delivery state."""
    client = await make_client()
    message = outbox_record(1, "oncall").message
    queued = NewMessage("report-test", INCIDENT_ID, "oncall", "webhook", message)
    await client.app[OUTBOX].run(lambda store: store.enqueue([queued]))
    body = await (await client.get(REPORT)).json()
    assert [(n["channel"], n["kind"]) for n in body["notifications"]] == [("oncall", "webhook")]


async def test_hostile_event_is_escaped_in_the_html_answer(
    make_client: ClientFactory, settings: Settings
) -> None:
    """Alert text with `</script><script>` comes back as text, never as a tag."""
    settings.data_dir.mkdir(parents=True)
    event = hostile_event()
    await seed(settings.data_dir, incident(settings.data_dir, event), event)
    client = await make_client()
    page = await (await client.get(REPORT, params={"format": "html"})).text()
    assert "<script" not in page.lower()
    assert "calc={{ 7*7 }}" in page


@pytest.mark.usefixtures("seeded")
async def test_unknown_incident_is_404(make_client: ClientFactory) -> None:
    """An id with no incident is a JSON 404."""
    client = await make_client()
    missing = await client.get("/v1/incidents/01JQ8ZK3V5T7W9X1Y2Z3A4B5ZZ/report")
    assert missing.status == 404
    assert "01JQ8ZK3V5T7W9X1Y2Z3A4B5ZZ" in (await missing.json())["message"]


@pytest.mark.usefixtures("seeded")
async def test_unknown_format_is_400_naming_the_parameter(make_client: ClientFactory) -> None:
    """`?format=pdf` is a 400 that says which formats there are."""
    client = await make_client()
    bad = await client.get(REPORT, params={"format": "pdf"})
    assert bad.status == 400
    assert "'format' must be one of md, json, html" in (await bad.json())["message"]
