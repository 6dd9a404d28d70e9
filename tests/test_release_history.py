"""Every release of an incident is kept: time, who asked, result, in the store, views and reports.

Regression: a second release overwrote the record of the first one (its time and each step's
result), so the report of an incident released twice showed only the second, "already".
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import TYPE_CHECKING

import pytest
from _builders import make_event
from _reports import INCIDENT_ID, incident, pause_step, seed, snapshot_step
from pydantic import SecretStr

from responder.cli import main
from responder.incidents import (
    INCIDENTS_FILE,
    IncidentStore,
    ReleaseAttempt,
    StepRelease,
)
from responder.incidents._schema import UNRECORDED_REQUESTER
from responder.reports import FORMATS, build_report, render
from responder.settings import AuthSettings
from responder.web.state import SETTINGS, WORKER

if TYPE_CHECKING:
    from pathlib import Path

    from _docker import Resources
    from conftest import ClientFactory

    from responder.incidents import IncidentRecord

FIRST_AT = "2025-03-14T10:00:00+00:00"
SECOND_AT = "2025-03-14T11:30:00+00:00"
ISOLATE_UNDO = {"networks": {"web-net": {"aliases": ["web"]}}, "quarantine": None}


def released_twice(data_dir: Path) -> IncidentRecord:
    """Snapshot, isolate, pause; released by HTTP (one step failed), then again from the CLI."""
    isolate = pause_step(
        index=1, action="docker:isolate", detail="disconnected web", undo=ISOLATE_UNDO
    )
    pause = pause_step(index=2, release_status="already", release_detail="web is not paused")
    first = ReleaseAttempt(
        number=1,
        at=FIRST_AT,
        requested_by="HTTP from 10.0.0.7",
        state="partially released",
        steps=(
            StepRelease(index=2, action="docker:pause", status="restored", detail="unpaused web"),
            StepRelease(
                index=1, action="docker:isolate", status="failed", detail="web-net is gone"
            ),
        ),
    )
    second = ReleaseAttempt(
        number=2,
        at=SECOND_AT,
        requested_by="CLI by alice",
        state="released",
        steps=(
            StepRelease(index=2, action="docker:pause", status="already", detail="not paused"),
            StepRelease(
                index=1, action="docker:isolate", status="restored", detail="reconnected web"
            ),
        ),
    )
    return incident(
        data_dir,
        make_event(),
        state="released",
        released_at=SECOND_AT,
        steps=(snapshot_step(data_dir), isolate, pause),
        releases=(first, second),
    )


def seeded(tmp_path: Path, record: IncidentRecord | None = None) -> Path:
    """A data directory holding `record` (released twice by default) and its event."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    event = make_event()
    record = record or released_twice(data_dir)
    asyncio.run(seed(data_dir, record.model_copy(update={"first_event": event.id}), event))
    return data_dir


# The store.


def test_each_release_is_kept_beside_the_earlier_ones(tmp_path: Path) -> None:
    """Two releases: both read back in order, numbered, each with its time, requester and steps."""
    data_dir = seeded(tmp_path, incident(tmp_path / "data"))
    store = IncidentStore(data_dir / INCIDENTS_FILE)
    try:
        restored = StepRelease(index=1, action="docker:pause", status="restored", detail="unpaused")
        already = restored.model_copy(update={"status": "already", "detail": "not paused"})
        one = store.released(
            INCIDENT_ID, "released", requested_by="HTTP from ::1", steps=[restored]
        )
        two = store.released(INCIDENT_ID, "released", requested_by="CLI by bob", steps=[already])
        record = store.get(INCIDENT_ID)
    finally:
        store.close()
    assert record is not None
    assert record.releases == (one, two)
    assert [(r.number, r.requested_by) for r in record.releases] == [
        (1, "HTTP from ::1"),
        (2, "CLI by bob"),
    ]
    assert [r.steps[0].status for r in record.releases] == ["restored", "already"]
    assert one.at <= two.at == record.released_at


def test_a_listing_leaves_steps_and_releases_to_the_single_view(tmp_path: Path) -> None:
    """`list` reads no step and no release: the keys are left out of every listing."""
    data_dir = seeded(tmp_path)
    store = IncidentStore(data_dir / INCIDENTS_FILE)
    try:
        [listed] = store.list()
        single = store.get(INCIDENT_ID)
    finally:
        store.close()
    assert (listed.steps, listed.releases) == ((), ())
    assert single is not None
    assert (len(single.steps), len(single.releases)) == (3, 2)


_VERSION_3_SCHEMA = """
CREATE TABLE incidents (
    id TEXT PRIMARY KEY, playbook TEXT NOT NULL, playbook_digest TEXT NOT NULL,
    playbook_file TEXT NOT NULL, target TEXT, container_id TEXT, container_name TEXT,
    image TEXT, state TEXT NOT NULL, reason TEXT, dry_run INTEGER NOT NULL, changed_at TEXT,
    event_source TEXT NOT NULL, event_name TEXT NOT NULL, priority TEXT NOT NULL,
    first_event TEXT NOT NULL, event_count INTEGER NOT NULL, first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL, opened_at TEXT NOT NULL, finished_at TEXT, released_at TEXT,
    retry_on_repeat INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX incidents_match ON incidents (playbook, target, opened_at);
CREATE INDEX incidents_state ON incidents (state);
CREATE TABLE incident_events (
    incident_id TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (incident_id, event_id)
);
CREATE TABLE steps (
    incident_id TEXT NOT NULL, idx INTEGER NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (incident_id, idx)
);
CREATE TABLE playbooks (digest TEXT PRIMARY KEY, source TEXT NOT NULL);
CREATE TABLE worker (key TEXT PRIMARY KEY, value TEXT NOT NULL);
PRAGMA user_version = 3;
"""
"""The incident store as responder wrote it before it kept every release."""


def version_3_store(path: Path, *records: IncidentRecord) -> None:
    """A store file as the responder before this change left it, holding `records`."""
    with sqlite3.connect(path) as conn:
        conn.executescript(_VERSION_3_SCHEMA)
        for record in records:
            columns = record.model_dump(exclude={"steps", "releases"})
            columns["dry_run"] = int(record.dry_run)
            names, marks = ", ".join(columns), ", ".join(f":{k}" for k in columns)
            conn.execute(f"INSERT INTO incidents ({names}) VALUES ({marks})", columns)  # noqa: S608
            conn.executemany(
                "INSERT INTO steps VALUES (?, ?, ?)",
                [(record.id, s.index, s.model_dump_json()) for s in record.steps],
            )


@pytest.mark.parametrize("state", ["released", "partially released"])
def test_an_older_store_keeps_its_one_release_as_release_1(tmp_path: Path, state: str) -> None:
    """A version 3 store: its release (time, state, each step's result) reads back as release 1."""
    path = tmp_path / INCIDENTS_FILE
    pause = pause_step(release_status="restored", release_detail="unpaused web")
    isolate = pause_step(
        index=2,
        action="docker:isolate",
        undo=ISOLATE_UNDO,
        release_status="failed" if state == "partially released" else "restored",
        release_detail="web-net: done",
    )
    released = incident(
        tmp_path,
        state=state,
        released_at=FIRST_AT,
        steps=(snapshot_step(tmp_path), pause, isolate),
    )
    unreleased = incident(tmp_path, id="01JQ8ZK3V5T7W9X1Y2Z3A4B5D0")
    version_3_store(path, released, unreleased)

    store = IncidentStore(path)
    try:
        record, other = store.get(released.id), store.get(unreleased.id)
        again = store.released(released.id, "released", requested_by="CLI by carol", steps=[])
    finally:
        store.close()
    assert record is not None
    assert other is not None
    [kept] = record.releases
    assert (kept.number, kept.at, kept.state) == (1, FIRST_AT, state)
    assert kept.requested_by == UNRECORDED_REQUESTER
    assert [(s.index, s.action, s.status) for s in kept.steps] == [
        (2, "docker:isolate", isolate.release_status),
        (1, "docker:pause", "restored"),
    ]
    assert other.releases == ()
    assert again.number == 2
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (5,)


def test_opening_an_upgraded_store_again_adds_nothing(tmp_path: Path) -> None:
    """The upgrade runs once: a second opening does not copy the old release a second time."""
    path = tmp_path / INCIDENTS_FILE
    version_3_store(path, incident(tmp_path, state="released", released_at=FIRST_AT))
    for _ in range(2):
        IncidentStore(path).close()
    store = IncidentStore(path)
    try:
        record = store.get(INCIDENT_ID)
    finally:
        store.close()
    assert record is not None
    assert len(record.releases) == 1


# The report, in every format.


def test_the_report_lists_every_release_in_every_format(tmp_path: Path) -> None:
    """Both releases, each with its time, requester, result and step outcomes, in md, json, html."""
    report = build_report(
        released_twice(tmp_path), make_event(), [], playbook_source=None, data_dir=tmp_path
    )
    for fmt in FORMATS:
        text = render(report, fmt)
        for expected in (
            FIRST_AT,
            SECOND_AT,
            "HTTP from 10.0.0.7",
            "CLI by alice",
            "partially released",
            "web-net is gone",
            "reconnected web",
        ):
            assert expected in text, (fmt, expected)
    document = json.loads(render(report, "json"))
    assert [a["number"] for a in document["release"]["attempts"]] == [1, 2]
    assert document["release"]["attempts"][0]["steps"][1] == {
        "index": 1,
        "action": "docker:isolate",
        "status": "failed",
        "detail": "web-net is gone",
    }


def test_the_markdown_report_has_one_row_per_release(tmp_path: Path) -> None:
    """One table row per release, the first before the second, under the Release heading."""
    report = build_report(
        released_twice(tmp_path), make_event(), [], playbook_source=None, data_dir=tmp_path
    )
    markdown = render(report, "md")
    section = markdown.split("\n## Release\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) == 2
    assert rows[0].startswith(f"| `1` | `{FIRST_AT}` | `HTTP from 10.0.0.7` | `partially released`")
    assert rows[1].startswith(f"| `2` | `{SECOND_AT}` | `CLI by alice` | `released`")
    assert "`3. docker:pause: already: not paused; 2. docker:isolate: restored:" in rows[1]


# The command line.


def test_incidents_id_prints_every_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`responder incidents ID` lists each release with its time, requester, result and steps."""
    data_dir = seeded(tmp_path)
    assert main(["incidents", INCIDENT_ID, "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert (
        f"  release 1 at {FIRST_AT} by HTTP from 10.0.0.7: partially released\n"
        "     3. docker:pause: restored: unpaused web\n"
        "     2. docker:isolate: failed: web-net is gone\n"
        f"  release 2 at {SECOND_AT} by CLI by alice: released\n"
        "     3. docker:pause: already: not paused\n"
        "     2. docker:isolate: restored: reconnected web\n"
    ) in out


def test_incidents_id_json_is_one_object_with_every_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`incidents --json ID` prints one object (not a list): steps, releases, release command."""
    data_dir = seeded(tmp_path)
    assert main(["incidents", INCIDENT_ID, "--json", "--data-dir", str(data_dir)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert isinstance(document, dict)
    assert document["id"] == INCIDENT_ID
    assert [s["action"] for s in document["steps"]] == [
        "docker:snapshot",
        "docker:isolate",
        "docker:pause",
    ]
    assert [(r["number"], r["requested_by"]) for r in document["releases"]] == [
        (1, "HTTP from 10.0.0.7"),
        (2, "CLI by alice"),
    ]
    assert document["release_command"].endswith(f" {INCIDENT_ID}")
    assert document["notifications"] == []


# The real thing: a container contained, released over HTTP, then again from the command line.

PLAYBOOK = """\
name: isolate-and-pause
match:
  rules: [Terminal shell in container]
steps:
  - action: docker:isolate
  - action: docker:pause
"""


@pytest.mark.docker
async def test_a_release_over_http_then_from_the_cli_are_both_kept_everywhere(
    make_client: ClientFactory, resources: Resources, tmp_path: Path
) -> None:
    """Two real releases: the view, `incidents ID` and the written reports show both, in order."""
    network, _ = resources.network()
    target = resources.container(networks={network: {"aliases": ["web"]}})
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "p.yaml").write_text(PLAYBOOK)
    auth = AuthSettings(
        token=SecretStr("intake-token"),
        admin_token=SecretStr("admin-token"),
        read_token=SecretStr("read-token"),
    )
    client = await make_client(playbooks=playbooks, auth=auth)
    body = {
        "rule": "Terminal shell in container",
        "priority": "Notice",
        "output": "shell",
        "output_fields": {"container.id": target.id[:12], "container.name": target.name},
    }
    intake = {"Authorization": "Bearer intake-token"}
    assert (await client.post("/v1/events/falco", json=body, headers=intake)).status == 202
    async with asyncio.timeout(60):
        await client.app[WORKER].idle()
    reader = {"Authorization": "Bearer read-token"}
    [listed] = (await (await client.get("/v1/incidents", headers=reader)).json())["incidents"]
    incident_id = listed["id"]
    assert listed["state"] == "contained"
    assert "steps" not in listed
    assert "releases" not in listed

    admin = {"Authorization": "Bearer admin-token"}
    first = await client.post(f"/v1/incidents/{incident_id}/release", headers=admin)
    assert (await first.json())["number"] == 1
    data_dir = client.app[SETTINGS].data_dir
    status = await asyncio.to_thread(main, ["release", incident_id, "--data-dir", str(data_dir)])
    assert status == 0

    view = await (await client.get(f"/v1/incidents/{incident_id}", headers=reader)).json()
    releases = view["releases"]
    assert [r["number"] for r in releases] == [1, 2]
    assert releases[0]["requested_by"].startswith("HTTP from ")
    assert releases[1]["requested_by"].startswith("CLI by ")
    assert [s["status"] for s in releases[0]["steps"]] == ["restored", "restored"]
    assert [s["status"] for s in releases[1]["steps"]] == ["already", "already"]
    assert releases[0]["at"] < releases[1]["at"] == view["released_at"]
    for fmt in FORMATS:
        written = (data_dir / "reports" / incident_id / f"report.{fmt}").read_text()
        for release in releases:
            assert release["at"] in written, fmt
            assert release["requested_by"] in written, fmt
