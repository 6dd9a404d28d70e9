"""The audit trail knows how long it is: its head is recorded apart from the file, with each append.

Regression: `audit verify` passed a file whose last lines were cut off, and an emptied file
("chain intact: 0 lines"), unless `--expect-head` was given.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from _incidents import settle

from responder.audit import AUDIT_FILE, AuditLog
from responder.cli import main
from responder.incidents import INCIDENTS_FILE, AuditAnchor
from responder.web.state import AUDIT, INCIDENTS, OUTBOX

if TYPE_CHECKING:
    from pathlib import Path

    from aiohttp.test_utils import TestClient
    from aiohttp.web import Application
    from conftest import ClientFactory

    from responder.incidents import IncidentRecord
    from responder.settings import Settings


async def write_lines(data_dir: Path, count: int) -> tuple[int, str]:
    """Append `count` lines as the server does (head recorded in the store); the head."""
    audit = AuditLog(data_dir / AUDIT_FILE, anchor=AuditAnchor(data_dir / INCIDENTS_FILE))
    await audit.open()
    for n in range(count):
        audit.record("event.accepted", event=f"e{n}")
    await audit.flush()
    head = audit.head
    await audit.close()
    return head


def lines_of(data_dir: Path) -> list[str]:
    """The audit file's lines, newline included."""
    return (data_dir / AUDIT_FILE).read_text().splitlines(keepends=True)


def verify(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`responder audit verify` on the data directory: exit status and output."""
    status = main(["audit", "verify", "--data-dir", str(data_dir)])
    return status, capsys.readouterr().out


async def test_the_recorded_head_follows_every_append(tmp_path: Path) -> None:
    """The store holds the seq and hash of the file's last line after each batch."""
    head = await write_lines(tmp_path, 3)
    assert AuditAnchor(tmp_path / INCIDENTS_FILE).load() == head
    assert head[0] == 3
    assert json.loads(lines_of(tmp_path)[-1])["hash"] == head[1]
    more = await write_lines(tmp_path, 2)
    assert more[0] == 5
    assert AuditAnchor(tmp_path / INCIDENTS_FILE).load() == more


@pytest.mark.parametrize(
    ("keep", "says"),
    [
        (9, "1 line cut off the end"),
        (5, "5 lines cut off the end"),
        (1, "9 lines cut off the end"),
        (0, "the file holds no lines"),
    ],
)
async def test_verify_alone_catches_lines_cut_off_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keep: int, says: str
) -> None:
    """A file cut short, down to empty, still chains: the recorded head says it is too short."""
    await write_lines(tmp_path, 10)
    assert verify(tmp_path, capsys)[0] == 0
    (tmp_path / AUDIT_FILE).write_text("".join(lines_of(tmp_path)[:keep]))
    status, out = verify(tmp_path, capsys)
    assert status == 1
    assert says in out
    assert "recorded head is seq 10" in out


async def test_verify_catches_a_file_replaced_by_another_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A longer, intact chain that is not this one: the recorded seq holds another hash."""
    await write_lines(tmp_path, 3)
    other = tmp_path / "other"
    other.mkdir()
    await write_lines(other, 6)
    (tmp_path / AUDIT_FILE).write_text((other / AUDIT_FILE).read_text())
    status, out = verify(tmp_path, capsys)
    assert status == 1
    assert "does not hold the recorded head" in out


async def test_verify_json_names_the_recorded_head(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--json` carries the recorded head, the line holding it, and what is wrong, if anything."""
    seq, head = await write_lines(tmp_path, 4)
    assert main(["audit", "verify", "--data-dir", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["recorded_head"] == {"seq": seq, "hash": head}
    assert report["recorded_head_line"] == 4
    assert report["recorded_head_problem"] is None


async def test_a_writer_that_finds_the_file_cut_short_says_so_in_the_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """At the next start the cut is noted (`audit.truncated`, with the lost head) and kept."""
    _, lost_head = await write_lines(tmp_path, 6)
    (tmp_path / AUDIT_FILE).write_text("".join(lines_of(tmp_path)[:2]))
    assert verify(tmp_path, capsys)[0] == 1
    await write_lines(tmp_path, 1)
    records = [json.loads(line) for line in lines_of(tmp_path)]
    [note] = [r for r in records if r["kind"] == "audit.truncated"]
    assert note["last_seq"] == 6
    assert note["last_hash"] == lost_head
    assert note["file_seq"] == 2
    status, out = verify(tmp_path, capsys)  # the cut is now on record in the chain itself
    assert status == 0, out


def test_a_file_with_no_recorded_head_verifies_as_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An audit file of a data directory without a store: nothing to compare, the chain decides."""
    (tmp_path / AUDIT_FILE).write_text("")
    status, out = verify(tmp_path, capsys)
    assert status == 0
    assert out.startswith("chain intact: 0 lines")


async def test_metrics_show_the_audit_head(make_client: ClientFactory, settings: Settings) -> None:
    """`/metrics` carries the head's seq and hash: a monitoring system keeps them off the host."""
    client = await make_client()
    response = await client.post(
        "/v1/events/falco", json={"rule": "r", "priority": "Notice", "output": "o"}
    )
    assert response.status == 202
    await settle(client)
    await client.app[AUDIT].flush()
    seq, head = client.app[AUDIT].head
    assert seq >= 1  # the event, and why no playbook matched it (one line since issue 17)
    assert AuditAnchor(settings.data_dir / INCIDENTS_FILE).load() == (seq, head)
    text = await (await client.get("/metrics")).text()
    assert f"responder_audit_head_seq {float(seq)}" in text
    assert f'responder_audit_head_info{{hash="{head}",seq="{seq}"}} 1.0' in text


async def one_notified_incident(
    make_client: ClientFactory, settings: Settings
) -> tuple[TestClient[Any, Application], IncidentRecord]:
    """The real app with a notify-only playbook, after one host event opened its incident."""
    settings.playbooks.mkdir(parents=True)
    (settings.playbooks / "page.yaml").write_text(
        "name: page\nmatch: {rules: [Host rule]}\n"
        "steps:\n  - action: notify\n    with: {channels: [oncall]}\n"
    )
    client = await make_client()
    body = {"rule": "Host rule", "priority": "Notice", "output": "o", "hostname": "node-1"}
    assert (await client.post("/v1/events/falco", json=body)).status == 202
    await settle(client)
    [row] = await client.app[INCIDENTS].run(lambda s: s.list(1))
    return client, row


async def test_every_report_carries_the_audit_head_of_its_time(
    make_client: ClientFactory, settings: Settings
) -> None:
    """A report (JSON, Markdown, HTML) names a line of the trail by its seq and hash."""
    client, row = await one_notified_incident(make_client, settings)
    report = await (await client.get(f"/v1/incidents/{row.id}/report?format=json")).json()
    head = report["audit_head"]
    line = json.loads(lines_of(settings.data_dir)[head["seq"] - 1])
    assert line["hash"] == head["hash"]
    for fmt in ("md", "html"):
        text = await (await client.get(f"/v1/incidents/{row.id}/report?format={fmt}")).text()
        assert f"seq {head['seq']}, {head['hash']}" in text, fmt


async def test_every_message_carries_the_audit_head_of_its_time(
    make_client: ClientFactory, settings: Settings
) -> None:
    """On-call's copy of the head: `Audit: seq N, HASH` in the text and as `audit_head`."""
    client, row = await one_notified_incident(make_client, settings)
    [queued] = await client.app[OUTBOX].run(lambda s: s.for_incident(row.id))
    message = queued.message
    assert message.audit_head is not None
    seq, head = message.audit_head.removeprefix("seq ").split(", ")
    assert json.loads(lines_of(settings.data_dir)[int(seq) - 1])["hash"] == head
    assert f"Audit: seq {seq}, {head}\n" in message.text
