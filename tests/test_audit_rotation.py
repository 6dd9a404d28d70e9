"""The audit trail rotates into sealed segments by size and by UTC day, and stays one chain."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
from _audit_trail import SMALL, Clock, anchor_of, records, segment_lines, settings_of, write
from _incidents import settle

from responder.audit import AUDIT_FILE, AuditLog, AuditSettings, verify_chain
from responder.audit._segments import segments
from responder.cli import main
from responder.testing import FakeEngine
from responder.web.state import AUDIT

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import ClientFactory

    from responder.settings import Settings


def verify(data_dir: Path) -> tuple[bool, str]:
    """verify_chain with the store's head and pruned point, as `audit verify` reads them."""
    anchor = anchor_of(data_dir)
    report = verify_chain(data_dir / AUDIT_FILE, None, anchor.load(), anchor.load_pruned())
    return report.intact, repr(report.broken)


async def test_the_active_file_is_sealed_into_segments_by_size(tmp_path: Path) -> None:
    """Past segment_bytes the file becomes a gzip segment; seq and chain go on unbroken."""
    await write(tmp_path, 200)
    found = segments(tmp_path / AUDIT_FILE)
    assert len(found) >= 3
    assert all(s.name.endswith(".jsonl.gz") for s in found)
    assert [s.first for s in found[1:]] == [s.last + 1 for s in found[:-1]]
    seqs = [record["seq"] for record in records(tmp_path)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert verify(tmp_path) == (True, "None")


async def test_each_new_file_starts_with_the_previous_segments_head(tmp_path: Path) -> None:
    """The first record of each file after a rotation names the segment, last seq and head."""
    await write(tmp_path, 120)
    found = segments(tmp_path / AUDIT_FILE)
    files = [segment_lines(s.path) for s in found[1:]]
    files.append((tmp_path / AUDIT_FILE).read_bytes().splitlines(keepends=True))
    for before, lines in zip(found, files, strict=True):
        first = json.loads(lines[0])
        last_of_before = json.loads(segment_lines(before.path)[-1])
        assert first["kind"] == "audit.segment"
        assert (first["segment"], first["last_seq"]) == (before.name, before.last)
        assert first["last_hash"] == first["prev"] == last_of_before["hash"]


async def test_uncompressed_segments_verify(tmp_path: Path) -> None:
    """With compress: false the segments are plain JSONL, read the same way."""
    await write(tmp_path, 100, settings_of(segment_bytes=4096, compress=False))
    found = segments(tmp_path / AUDIT_FILE)
    assert found
    assert all(s.name.endswith(".jsonl") for s in found)
    assert verify(tmp_path) == (True, "None")


async def test_a_new_utc_day_seals_the_active_file(tmp_path: Path) -> None:
    """Lines of one day, then the clock passes midnight: the next batch starts a new file."""
    clock = Clock()
    daily = settings_of(segment_bytes=1 << 20)
    await write(tmp_path, 5, daily, clock)
    assert segments(tmp_path / AUDIT_FILE) == []
    clock.advance(days=1)
    await write(tmp_path, 3, daily, clock)
    (segment,) = segments(tmp_path / AUDIT_FILE)
    assert (segment.first, segment.last) == (1, 5)
    first = json.loads((tmp_path / AUDIT_FILE).read_text().splitlines()[0])
    assert (first["kind"], first["time"][:10]) == ("audit.segment", "2026-12-02")
    assert verify(tmp_path) == (True, "None")


async def test_without_daily_rotation_a_new_day_changes_nothing(tmp_path: Path) -> None:
    """rotate_daily: false keeps one file across midnight while it is small."""
    clock = Clock()
    settings = settings_of(segment_bytes=1 << 20, rotate_daily=False)
    await write(tmp_path, 5, settings, clock)
    clock.advance(days=3)
    await write(tmp_path, 5, settings, clock)
    assert segments(tmp_path / AUDIT_FILE) == []


async def test_an_old_single_file_verifies_then_rotates(tmp_path: Path) -> None:
    """A data directory from before segments (one audit.jsonl) verifies, then rotates from seq 1."""
    await write(tmp_path, 60, settings=None)
    assert verify(tmp_path) == (True, "None")
    await write(tmp_path, 5)
    oldest = segments(tmp_path / AUDIT_FILE)[0]
    assert (oldest.first, oldest.last) == (1, 60)
    assert verify(tmp_path) == (True, "None")


async def test_a_second_process_appends_through_rotations(tmp_path: Path) -> None:
    """The server and `responder release` both write while segments are sealed: one chain."""
    other = textwrap.dedent(f"""
        import asyncio, pathlib
        from responder.audit import AuditLog, AuditSettings
        from responder.incidents import AuditAnchor
        async def main():
            data = pathlib.Path({str(tmp_path)!r})
            audit = AuditLog(data / "audit.jsonl", anchor=AuditAnchor(data / "incidents.sqlite3"),
                             settings=AuditSettings.model_validate(dict(segment_bytes=4096)))
            await audit.open()
            for n in range(150):
                audit.record("incident.released", writer="cli", n=n, text="y" * 80)
                if n % 3 == 0:
                    await audit.flush()
                    await asyncio.sleep(0.001)
            await audit.close()
        asyncio.run(main())
    """)
    audit = AuditLog(tmp_path / AUDIT_FILE, anchor=anchor_of(tmp_path), settings=SMALL)
    await audit.open()
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", other)
    written = 0
    while process.returncode is None:  # keep writing for as long as the other writer lives
        audit.record("event.accepted", writer="server", n=written, text="x" * 80)
        written += 1
        await audit.flush()
        await asyncio.sleep(0.001)
    assert await process.wait() == 0
    await audit.close()
    writers = [record.get("writer") for record in records(tmp_path)]
    assert (writers.count("cli"), writers.count("server")) == (150, written)
    switches = [a for a, b in itertools.pairwise(w for w in writers if w) if a != b]
    assert len(switches) > 2  # the two really interleaved
    assert "audit.truncated" not in [record["kind"] for record in records(tmp_path)]
    assert len(segments(tmp_path / AUDIT_FILE)) > 3
    assert verify(tmp_path) == (True, "None")


async def test_a_writer_that_does_not_rotate_follows_one_that_does(tmp_path: Path) -> None:
    """A writer without rotation settings appends to each new active file, never a sealed one.

    A new, shorter active file is never taken for a cut one (no `audit.truncated`).
    """
    plain = AuditLog(tmp_path / AUDIT_FILE, anchor=anchor_of(tmp_path))
    rotating = AuditLog(tmp_path / AUDIT_FILE, anchor=anchor_of(tmp_path), settings=SMALL)
    await plain.open()
    await rotating.open()
    for n in range(120):
        for audit in (plain, rotating):
            audit.record("event.accepted", n=n, text="x" * 60)
            await audit.flush()
    await plain.close()
    await rotating.close()
    kinds = [record["kind"] for record in records(tmp_path)]
    assert kinds.count("event.accepted") == 240
    assert "audit.truncated" not in kinds
    assert len(segments(tmp_path / AUDIT_FILE)) > 3
    assert verify(tmp_path) == (True, "None")


async def test_audit_show_reads_across_segments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`audit show` finds lines in sealed segments as well as in the active file."""
    await write(tmp_path, 80)
    assert segments(tmp_path / AUDIT_FILE)
    status = main(["audit", "show", "--data-dir", str(tmp_path), "--limit", "1000", "--json"])
    assert status == 0
    shown = json.loads(capsys.readouterr().out)
    assert [record["seq"] for record in shown] == list(range(1, len(shown) + 1))
    assert sum(record["kind"] == "event.accepted" for record in shown) == 80


async def test_audit_verify_says_how_many_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI reports the trail intact across its files."""
    await write(tmp_path, 80)
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 0
    files = len(segments(tmp_path / AUDIT_FILE)) + 1
    assert f"lines in {files} files" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("segment_bytes: 1KiB", "audit.segment_bytes"),
        ("keep_age: 0s", "audit.keep_age"),
        ("keep_bytes: lots", "audit.keep_bytes"),
        ("rotate: hourly", "audit.rotate"),
    ],
)
def test_check_names_a_bad_audit_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, says: str
) -> None:
    """`responder check` refuses a bad `audit:` setting, naming it with its line."""
    config = tmp_path / "r.yaml"
    config.write_text(f"audit:\n  {setting}\n")
    playbooks = tmp_path / "pb"
    playbooks.mkdir()
    assert main(["check", "--config", str(config), str(playbooks)]) == 1
    assert f"{config}:2: {says}" in capsys.readouterr().err


def test_audit_settings_take_sizes_as_people_write_them() -> None:
    """`64MiB` is the default segment size; sizes parse as pydantic's ByteSize."""
    assert settings_of(segment_bytes="64MiB") == AuditSettings()
    assert SMALL.segment_bytes == 4096


async def test_the_server_seals_its_trail_with_the_audit_settings(
    make_client: ClientFactory, settings: Settings
) -> None:
    """The running app takes `audit:` from its settings: events posted end up in segments."""
    client = await make_client(audit=SMALL, engine=FakeEngine())
    for n in range(40):
        body = {"rule": "r", "priority": "Notice", "output": f"o{n}"}
        assert (await client.post("/v1/events/falco", json=body)).status == 202
    await settle(client)
    await client.app[AUDIT].flush()
    assert segments(settings.data_dir / AUDIT_FILE)
    assert verify(settings.data_dir) == (True, "None")
