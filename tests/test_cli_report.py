"""`responder report ID`: the report fresh from the data directory, in each format, or a clear no."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from _builders import make_event
from _messages import message
from _reports import INCIDENT_ID, PLAYBOOK_DIGEST, incident, outbox_record, seed

from responder.cli._main import main
from responder.notifications.outbox import OUTBOX_FILE, NewMessage, OutboxStore

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def seeded(tmp_path: Path) -> Path:
    """A data directory holding one contained incident and its event, and no outbox."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    event = make_event(output="shell in web")
    asyncio.run(seed(data_dir, incident(data_dir, event), event))
    return data_dir


def test_report_prints_markdown_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Markdown report, with the event output, playbook version and release command."""
    data_dir = seeded(tmp_path)
    assert main(["report", INCIDENT_ID, "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# Incident report `{INCIDENT_ID}`")
    assert "shell in web" in out
    assert PLAYBOOK_DIGEST in out
    assert "yes, matches the digest" in out
    assert f"responder release --data-dir {data_dir.resolve()} {INCIDENT_ID}" in out
    assert "No notification was queued" in out


def test_report_json_is_the_report_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--format json` prints the report as one JSON document."""
    data_dir = seeded(tmp_path)
    assert main(["report", INCIDENT_ID, "--format", "json", "--data-dir", str(data_dir)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["incident"]["id"] == INCIDENT_ID
    assert document["trigger"]["first_event"]["output"] == "shell in web"
    assert [p["phase"] for p in document["checklist"]] == [
        "Investigation",
        "Eradication",
        "Recovery",
        "Lessons learned",
    ]


def test_report_html_goes_to_the_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--format html --output FILE` writes the page there and prints nothing."""
    data_dir = seeded(tmp_path)
    target = tmp_path / "report.html"
    argv = ["report", INCIDENT_ID, "--format", "html", "--output", str(target)]
    assert main([*argv, "--data-dir", str(data_dir)]) == 0
    assert capsys.readouterr().out == ""
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert f"responder release --data-dir {data_dir.resolve()} {INCIDENT_ID}" in page


def test_report_without_an_outbox_does_not_create_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reading a report leaves no new store behind."""
    data_dir = seeded(tmp_path)
    assert main(["report", INCIDENT_ID, "--data-dir", str(data_dir)]) == 0
    capsys.readouterr()
    assert not (data_dir / OUTBOX_FILE).exists()


def test_report_shows_current_delivery_states(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A notification that failed since the incident finished shows as failed, with its error."""
    data_dir = seeded(tmp_path)
    store = OutboxStore(data_dir / OUTBOX_FILE)
    message = outbox_record(1, "pager").message
    [row_id] = store.enqueue([NewMessage("k1", INCIDENT_ID, "pager", "pagerduty", message)])
    store.failed(row_id, 5, "HTTP 400: invalid routing key")
    store.close()
    assert main(["report", INCIDENT_ID, "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "| `pager` | `pagerduty` | `incident` | `failed` | `5` |" in out
    assert "HTTP 400: invalid routing key" in out


def test_unknown_incident_exits_1_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An id the store does not hold is exit 1 and one line on stderr."""
    data_dir = seeded(tmp_path)
    assert main(["report", "01JQ8ZK3V5T7W9X1Y2Z3A4B5ZZ", "--data-dir", str(data_dir)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no incident '01JQ8ZK3V5T7W9X1Y2Z3A4B5ZZ'" in captured.err


def test_data_dir_without_incidents_exits_1_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A data directory where nothing ran is exit 1, naming the directory, and stays empty."""
    assert main(["report", INCIDENT_ID, "--data-dir", str(tmp_path)]) == 1
    assert f"no incidents in {tmp_path}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_incidents_shows_each_message_and_why_it_is_not_delivered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`responder incidents ID` lists the incident's messages, with the last error of one that waits."""
    data_dir = seeded(tmp_path)
    store = OutboxStore(data_dir / OUTBOX_FILE)
    sent, waiting = store.enqueue(
        [
            NewMessage("a", INCIDENT_ID, "hook", "webhook", message(INCIDENT_ID)),
            NewMessage("b", INCIDENT_ID, "mail", "email", message(INCIDENT_ID)),
        ]
    )
    store.sent(sent, 1, "HTTP 200")
    store.retry(waiting, 3, "mail: ConnectionRefusedError", 0.0)
    store.close()
    assert main(["incidents", INCIDENT_ID, "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert f"message #{sent} to hook (incident): sent, 1 attempt\n" in out
    assert f"message #{waiting} to mail (incident): pending, 3 attempts: mail: Connection" in out
