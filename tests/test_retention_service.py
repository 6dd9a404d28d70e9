"""Retention in the running service and from the command line: pruning never loses an event."""

from __future__ import annotations

import asyncio
import json
import textwrap
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from _incidents import settle
from _retention import event_ids, incident, journal_of, old_event, record_dispatch

from responder.audit import AUDIT_FILE
from responder.cli import main
from responder.errors import ConfigError
from responder.journal import JOURNAL_FILE
from responder.retention import JournalRetention, RetentionSettings
from responder.settings import load_settings
from responder.testing import FakeEngine
from responder.web.state import AUDIT, PRUNER

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import ClientFactory

    from responder.settings import Settings

PROBE = """\
name: probe
match:
  rules: [Retention probe]
steps:
  - action: notify
    with: {channels: [oncall]}
"""
EAGER = RetentionSettings(
    interval=timedelta(milliseconds=5),
    pause=timedelta(milliseconds=1),
    batch=5,
    journal=JournalRetention(max_age=timedelta(milliseconds=1), max_bytes=None),
)


def body(n: int) -> dict[str, Any]:
    """A host event (no container); every seventh is one the probe playbook acts on."""
    return {
        "rule": "Retention probe" if n % 7 == 0 else "Noise",
        "priority": "Warning",
        "output": f"event {n}",
        "time": 1_790_000_000_000_000_000 + n,
    }


def audit_records(data_dir: Path) -> list[dict[str, Any]]:
    """Every line of the audit trail."""
    lines = (data_dir / AUDIT_FILE).read_text().splitlines()
    return [json.loads(line) for line in lines]


async def test_a_flood_while_pruning_runs_loses_no_acknowledged_event(
    make_client: ClientFactory, settings: Settings, tmp_path: Path
) -> None:
    """Every acknowledged event is processed while pruning runs; the incident's events stay."""
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "probe.yaml").write_text(PROBE)
    client = await make_client(engine=FakeEngine(), playbooks=playbooks, retention=EAGER)

    async def post(n: int) -> str:
        response = await client.post("/v1/events/falco", json=body(n))
        assert response.status == 202
        return str((await response.json())["events"][0]["id"])

    acked: list[str] = []
    for start in range(0, 700, 50):
        acked += await asyncio.gather(*(post(n) for n in range(start, start + 50)))
    await settle(client)
    pruner = client.app[PRUNER]
    async with asyncio.timeout(30):
        await pruner.wait_passes(pruner.passes + 2)  # two whole passes after the worker is idle
    await client.app[AUDIT].flush()
    data_dir = settings.data_dir
    records = audit_records(data_dir)
    processed = {r["event"] for r in records if r["kind"] in {"event.accepted", "event.unmatched"}}
    assert set(acked) <= processed
    kept = event_ids(data_dir)
    assert kept == [acked[n] for n in range(0, 700, 7)]  # the incident's, and only those
    assert (
        sum(r["stores"]["journal"]["count"] for r in records if r["kind"] == "retention.pruned")
        == 600
    )


async def test_pruned_rows_are_counted_in_metrics(
    make_client: ClientFactory, settings: Settings
) -> None:
    """`responder_pruned_total{store="journal"}` counts what the background pass removed."""
    await journal_of(settings.data_dir, [old_event(n, 40) for n in range(12)])
    record_dispatch(settings.data_dir, cursor=12)
    client = await make_client(engine=FakeEngine(), retention=EAGER)
    async with asyncio.timeout(30):
        await client.app[PRUNER].wait_passes(1)
    text = await (await client.get("/metrics")).text()
    assert 'responder_pruned_total{store="journal"} 12.0' in text


async def test_gc_dry_run_prints_each_store_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`gc --dry-run --json` counts per store with reasons; the journal is untouched."""
    events = [old_event(n, 40) for n in range(10)]
    await journal_of(tmp_path, events)
    record_dispatch(tmp_path, cursor=10, opened=[incident("I1", events[0].id)])
    assert main(["gc", "--dry-run", "--json", "--data-dir", str(tmp_path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    journal = next(s for s in printed["stores"] if s["store"] == "journal")
    assert printed["dry_run"] is True
    assert journal["count"] == 9
    assert "received more than 30d ago" in journal["removals"][0]["reason"]
    assert len(event_ids(tmp_path)) == 10
    assert not (tmp_path / AUDIT_FILE).exists()


def test_gc_prunes_and_records_it_in_the_audit_trail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`gc` removes what retention lets go and writes one `retention.pruned` record."""
    events = [old_event(n, 40) for n in range(10)]
    asyncio.run(journal_of(tmp_path, events))
    record_dispatch(tmp_path, cursor=10)
    assert main(["gc", "--data-dir", str(tmp_path)]) == 0
    assert "journal: removed 10 events" in capsys.readouterr().out
    assert event_ids(tmp_path) == []
    (pruned,) = [r for r in audit_records(tmp_path) if r["kind"] == "retention.pruned"]
    assert pruned["stores"]["journal"]["count"] == 10


def test_gc_without_a_data_directory_is_a_config_error(tmp_path: Path) -> None:
    """Nothing to prune where there is no data directory: status 2, not an empty one made."""
    assert main(["gc", "--data-dir", str(tmp_path / "none")]) == 2
    assert not (tmp_path / "none" / JOURNAL_FILE).exists()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "journal: {max_bytes: 10KB}",
            "retention.journal.max_bytes: a size budget of 9.8KiB",
        ),
        ("evidence: {max_bytes: lots}", "retention.evidence.max_bytes: could not parse"),
        ("outbox: {max_age: -1d}", "retention.outbox.max_age: not a duration"),
        ("batch: 0", "retention.batch: Input should be greater than or equal to 1"),
        ("interval: 0s", "retention.interval: must be longer than 0s"),
    ],
)
def test_bad_retention_settings_are_refused_naming_the_field(
    tmp_path: Path, text: str, problem: str
) -> None:
    """Each bad retention value is a ConfigError naming its key."""
    config = tmp_path / "r.yaml"
    config.write_text("retention:\n" + textwrap.indent(text, "  ") + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})
    assert problem in str(caught.value)


def test_check_reports_a_bad_retention_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`responder check` fails on a bad retention value and names it."""
    config = tmp_path / "r.yaml"
    config.write_text("retention:\n  journal:\n    max_age: soon\n")
    assert main(["check", "--config", str(config), str(tmp_path)]) == 1
    assert "retention.journal.max_age" in capsys.readouterr().err


def test_gc_dry_run_says_what_must_stay_over_the_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unprocessed events over the budget are printed as kept, with the reason."""
    asyncio.run(journal_of(tmp_path, [old_event(n, 0, size=3000) for n in range(60)]))
    record_dispatch(tmp_path, cursor=0)
    config = tmp_path / "r.yaml"
    config.write_text("retention:\n  journal: {max_bytes: 64KiB}\n")
    assert main(["gc", "--dry-run", "--config", str(config), "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "journal: would remove 0 events" in out
    assert "kept over budget by" in out
    assert "60 events must stay" in out
