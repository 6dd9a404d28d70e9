"""Old sealed segments are pruned by age and by size, the point pruned through kept on record."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from _audit_trail import SMALL, anchor_of, records, segment_lines, settings_of, write

from responder.audit import AUDIT_FILE, prunable_segments, verify_chain
from responder.audit._segments import segments
from responder.cli import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from responder.audit._segments import Segment

DAY = 86400.0


async def sealed(data_dir: Path, count: int = 150) -> list[Segment]:
    """A trail of `count` records in 4 KiB segments, nothing pruned; its segments."""
    await write(data_dir, count, SMALL)
    found = segments(data_dir / AUDIT_FILE)
    assert len(found) >= 5
    return found


def age(segment: Segment, days: float) -> None:
    """Make a segment look sealed `days` ago."""
    then = time.time() - days * DAY
    os.utime(segment.path, (then, then))


def verify(data_dir: Path, *, with_store: bool = True) -> tuple[bool, str, tuple[str, ...]]:
    """Intact?, the break, and the notes; with or without the store's head and pruned point."""
    anchor = anchor_of(data_dir)
    head, pruned = (anchor.load(), anchor.load_pruned()) if with_store else (None, None)
    report = verify_chain(data_dir / AUDIT_FILE, None, head, pruned)
    return report.intact, repr(report.broken), report.notes


def test_prunable_segments_lists_the_oldest_by_age_and_changes_nothing(tmp_path: Path) -> None:
    """The dry run: segments sealed before now - keep_age, oldest first, each with a reason."""
    (tmp_path / "audit").mkdir()
    for first, last in ((1, 10), (11, 20), (21, 30)):
        (tmp_path / "audit" / f"audit-{first:012d}-{last:012d}.jsonl.gz").write_bytes(b"x")
    old = segments(tmp_path / AUDIT_FILE)
    age(old[0], 100)
    age(old[1], 95)
    listed = prunable_segments(tmp_path, settings_of(keep_age="90d"), datetime.now(UTC))
    assert [item.segment.first for item in listed] == [1, 11]
    assert all("older than audit.keep_age (90d)" in item.reason for item in listed)
    assert len(segments(tmp_path / AUDIT_FILE)) == 3


def test_prunable_segments_by_size_keeps_the_newest_within_budget(tmp_path: Path) -> None:
    """Over keep_bytes, the oldest go until the rest fit; a recent old one stops the age rule."""
    (tmp_path / "audit").mkdir()
    for n in range(5):
        name = f"audit-{n * 10 + 1:012d}-{n * 10 + 10:012d}.jsonl.gz"
        (tmp_path / "audit" / name).write_bytes(b"x" * 1000)
    listed = prunable_segments(
        tmp_path, settings_of(keep_age=None, keep_bytes=2500), datetime.now(UTC)
    )
    assert [item.segment.first for item in listed] == [1, 11, 21]
    assert "over audit.keep_bytes" in listed[0].reason


async def test_pruning_by_age_records_its_point_then_deletes(tmp_path: Path) -> None:
    """audit.pruned names the segments and the head they ended on; the store keeps the point."""
    found = await sealed(tmp_path)
    for segment in found[:3]:
        age(segment, 100)
    ended_on = json.loads(segment_lines(found[2].path)[-1])["hash"]
    await write(tmp_path, 1, settings_of(segment_bytes=4096, keep_age="90d", keep_bytes=None))
    assert [s.name for s in segments(tmp_path / AUDIT_FILE)][:1] == [found[3].name]
    (pruned,) = [r for r in records(tmp_path) if r["kind"] == "audit.pruned"]
    assert pruned["segments"] == [s.name for s in found[:3]]
    assert pruned["through_seq"] == found[2].last
    assert pruned["through_hash"] == ended_on
    assert anchor_of(tmp_path).load_pruned() == (found[2].last, pruned["through_hash"])
    assert verify(tmp_path)[:2] == (True, "None")


async def test_pruning_by_size_keeps_the_trail_within_budget(tmp_path: Path) -> None:
    """keep_bytes: the oldest segments go until the sealed ones fit; the rest still verifies."""
    found = await sealed(tmp_path)
    budget = sum(s.bytes for s in found[-2:])
    await write(tmp_path, 1, settings_of(segment_bytes=4096, keep_age=None, keep_bytes=budget))
    kept = segments(tmp_path / AUDIT_FILE)
    assert sum(s.bytes for s in kept) <= budget
    assert kept[0].first > 1
    assert verify(tmp_path)[:2] == (True, "None")


async def test_a_pruned_trail_verifies_from_its_prune_record_alone(tmp_path: Path) -> None:
    """Without the store (another copy of the files), the audit.pruned record says where it starts."""
    found = await sealed(tmp_path)
    age(found[0], 100)
    await write(tmp_path, 1, settings_of(segment_bytes=4096))
    assert segments(tmp_path / AUDIT_FILE)[0].first == found[1].first
    assert verify(tmp_path, with_store=False)[:2] == (True, "None")


async def test_a_segment_missing_after_the_pruned_point_is_caught(tmp_path: Path) -> None:
    """Pruned through one segment, and the next one deleted by hand: named as missing."""
    found = await sealed(tmp_path)
    age(found[0], 100)
    await write(tmp_path, 1, settings_of(segment_bytes=4096))
    found[1].path.unlink()
    intact, broken, _ = verify(tmp_path)
    assert not intact
    assert f"pruned through seq {found[0].last}, but it starts at seq {found[2].first}" in broken


async def test_a_prune_cut_short_before_the_deletion_still_verifies(tmp_path: Path) -> None:
    """The store says pruned, the segment is still there (a crash): a note, then it goes."""
    found = await sealed(tmp_path)
    head = json.loads(segment_lines(found[1].path)[0])["prev"]
    anchor_of(tmp_path).save_pruned(found[0].last, head)
    intact, _, notes = verify(tmp_path)
    assert intact
    assert any("was pruned" in note for note in notes)
    await write(tmp_path, 1, settings_of(segment_bytes=4096))  # not old: removed as pruned
    assert segments(tmp_path / AUDIT_FILE)[0].first == found[1].first
    assert verify(tmp_path)[:2] == (True, "None")


def test_gc_lists_old_segments_dry_and_deletes_them_for_real(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`gc --dry-run` lists the sealed segments past `audit.keep_age`; `gc` deletes just those."""
    found = asyncio.run(sealed(tmp_path))  # the command runs its own loop
    for segment in found[:2]:
        age(segment, 100)
    config = tmp_path / "responder.yaml"
    config.write_text("audit: {segment_bytes: 4KiB, keep_age: 30d}\n")
    common = ["--config", str(config), "--data-dir", str(tmp_path)]
    capsys.readouterr()

    assert main(["gc", "--dry-run", "--json", *common]) == 0
    stores = {store["store"]: store for store in json.loads(capsys.readouterr().out)["stores"]}
    assert stores["audit"]["count"] == 2
    assert stores["audit"]["bytes"] == sum(segment.bytes for segment in found[:2])
    assert "older than audit.keep_age (30d)" in stores["audit"]["removals"][0]["reason"]
    assert [s.name for s in segments(tmp_path / AUDIT_FILE)] == [s.name for s in found]

    assert main(["gc", *common]) == 0
    left = [s.name for s in segments(tmp_path / AUDIT_FILE)]
    assert left[: len(found) - 2] == [s.name for s in found[2:]]  # then what gc's lines sealed
    intact, broken, _ = verify(tmp_path)
    assert intact, broken
    kinds = [record["kind"] for record in records(tmp_path)]
    assert "audit.pruned" in kinds
    assert "retention.pruned" in kinds, kinds[-5:]
