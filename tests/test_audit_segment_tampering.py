"""`audit verify` across segments: every way of damaging a segmented trail is caught and named."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from _audit_trail import anchor_of, put_lines, segment_lines, write

from responder.audit import AUDIT_FILE, verify_chain
from responder.audit._segments import segments
from responder.cli import main

if TYPE_CHECKING:
    from pathlib import Path

    from responder.audit import AuditValue
    from responder.audit._segments import Segment


@pytest.fixture
async def trail(tmp_path: Path) -> list[Segment]:
    """A data directory with at least five sealed segments and an active file; its segments."""
    await write(tmp_path, 150)
    found = segments(tmp_path / AUDIT_FILE)
    assert len(found) >= 5
    return found


def verify(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    """`responder audit verify --json`: exit status and the report."""
    status = main(["audit", "verify", "--data-dir", str(data_dir), "--json"])
    return status, json.loads(capsys.readouterr().out)


def broken(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    """The break `audit verify` reports (it must exit 1)."""
    status, report = verify(data_dir, capsys)
    assert status == 1, report
    brk = report["break"]
    assert isinstance(brk, dict), report
    return brk


async def test_an_intact_segmented_trail_passes(
    tmp_path: Path, trail: list[Segment], capsys: pytest.CaptureFixture[str]
) -> None:
    """The fixture itself verifies, across all its files."""
    status, report = verify(tmp_path, capsys)
    assert (status, report["files"], report["intact"]) == (0, len(trail) + 1, True)


@pytest.mark.parametrize("which", [1, 2, -1])
async def test_a_missing_segment_in_the_middle_is_named(
    tmp_path: Path, trail: list[Segment], capsys: pytest.CaptureFixture[str], which: int
) -> None:
    """Deleting a segment after the oldest leaves a gap, named with the seqs it held."""
    gone = trail[which]
    gone.path.unlink()
    brk = broken(tmp_path, capsys)
    assert f"holding seqs {gone.first}..{gone.last} is missing" in str(brk["reason"])
    assert brk["line"] == 1


async def test_a_missing_oldest_segment_without_a_prune_record_is_caught(
    tmp_path: Path, trail: list[Segment], capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a prune record the trail must start at seq 1: the oldest segment is missing."""
    trail[0].path.unlink()
    brk = broken(tmp_path, capsys)
    assert brk["file"] == trail[1].name
    assert "the oldest segment is missing, and no prune record covers it" in str(brk["reason"])


@pytest.mark.parametrize("keep", [0, 1, 5])
async def test_a_segment_cut_short_is_named(
    tmp_path: Path, trail: list[Segment], capsys: pytest.CaptureFixture[str], keep: int
) -> None:
    """A segment whose last lines are gone ends before its name says (down to empty)."""
    victim = trail[2]
    put_lines(victim.path, segment_lines(victim.path)[:keep])
    brk = broken(tmp_path, capsys)
    assert brk["file"] == victim.name
    assert ("emptied" if keep == 0 else "cut off its end") in str(brk["reason"])


@pytest.mark.parametrize("fraction", [0.3, 0.9])
async def test_a_compressed_segment_cut_short_is_named(
    tmp_path: Path, trail: list[Segment], capsys: pytest.CaptureFixture[str], fraction: float
) -> None:
    """Bytes cut off a gzip segment: it cannot be read to its end, and says so."""
    victim = trail[1]
    data = victim.path.read_bytes()
    victim.path.write_bytes(data[: int(len(data) * fraction)])
    brk = broken(tmp_path, capsys)
    assert brk["file"] == victim.name
    assert "cut short or damaged" in str(brk["reason"])


@pytest.mark.parametrize("segment", [0, 3])
async def test_an_edited_line_in_a_segment_is_named(
    tmp_path: Path, trail: list[Segment], capsys: pytest.CaptureFixture[str], segment: int
) -> None:
    """One changed value in a sealed segment is caught at that segment's line."""
    victim = trail[segment]
    lines = segment_lines(victim.path)
    lines[4] = lines[4].replace(b'"event":"e', b'"event":"E', 1)
    put_lines(victim.path, lines)
    brk = broken(tmp_path, capsys)
    assert (brk["file"], brk["line"]) == (victim.name, 5)
    assert "was edited" in str(brk["reason"])


async def test_swapped_segments_are_caught(
    tmp_path: Path, trail: list[Segment], capsys: pytest.CaptureFixture[str]
) -> None:
    """Two segments' contents exchanged: the first no longer holds what its name says."""
    a, b = trail[1], trail[2]
    data_a, data_b = a.path.read_bytes(), b.path.read_bytes()
    a.path.write_bytes(data_b)
    b.path.write_bytes(data_a)
    brk = broken(tmp_path, capsys)
    assert brk["file"] == a.name
    assert "renamed or swapped" in str(brk["reason"])


async def test_a_segment_renamed_out_of_order_is_caught(
    tmp_path: Path, trail: list[Segment], capsys: pytest.CaptureFixture[str]
) -> None:
    """A segment given another's seqs in its name does not hold them."""
    victim = trail[2]
    victim.path.rename(victim.path.with_name(victim.name.replace("audit-0", "audit-9", 1)))
    assert broken(tmp_path, capsys)["line"] == 1


async def test_the_active_file_cut_short_is_caught(
    tmp_path: Path, trail: list[Segment], capsys: pytest.CaptureFixture[str]
) -> None:
    """Lines cut off the active file: the head recorded in the store is past the trail's end."""
    assert trail
    active = tmp_path / AUDIT_FILE
    active.write_bytes(b"".join(active.read_bytes().splitlines(keepends=True)[:1]))
    status, report = verify(tmp_path, capsys)
    assert (status, report["break"]) == (1, None)
    assert "cut off the end" in str(report["recorded_head_problem"])


async def test_the_active_file_replaced_by_an_empty_one_is_caught(
    tmp_path: Path, trail: list[Segment], capsys: pytest.CaptureFixture[str]
) -> None:
    """An emptied active file: the segments verify, but the recorded head is not reached."""
    assert trail
    (tmp_path / AUDIT_FILE).write_bytes(b"")
    status, report = verify(tmp_path, capsys)
    assert status == 1
    assert "cut off the end" in str(report["recorded_head_problem"])


async def test_the_text_output_names_segment_and_line(
    tmp_path: Path, trail: list[Segment], capsys: pytest.CaptureFixture[str]
) -> None:
    """The human output starts with SEGMENT:LINE: reason."""
    victim = trail[1]
    lines = segment_lines(victim.path)
    del lines[3]
    put_lines(victim.path, lines)
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"{victim.name}:4: line 4: seq {victim.first + 4} follows")


async def test_reserved_names_nested_in_fields_neither_break_nor_hide_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fields holding `hash`, `prev`, `seq` keys (alert labels) verify; an edit is still caught."""
    from responder.audit import AuditLog  # noqa: PLC0415 - only this test writes odd fields

    audit = AuditLog(tmp_path / AUDIT_FILE)
    await audit.open()
    for n in range(30):
        head = audit.head
        labels: dict[str, AuditValue] = {"hash": head[1], "prev": head[1], "seq": head[0] + 1}
        labels["kind"] = "audit.segment"
        audit.record("event.accepted", alpha={"hash": "0" * 64}, labels=labels, n=n)
        await audit.flush()
    await audit.close()
    assert main(["audit", "verify", "--file", str(tmp_path / AUDIT_FILE)]) == 0
    lines = (tmp_path / AUDIT_FILE).read_bytes().splitlines(keepends=True)
    lines[10] = lines[10].replace(b'"n":10', b'"n":11')
    (tmp_path / AUDIT_FILE).write_bytes(b"".join(lines))
    capsys.readouterr()
    assert main(["audit", "verify", "--file", str(tmp_path / AUDIT_FILE)]) == 1
    assert "line 11 was edited" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["none", "edit", "missing", "swap"])
async def test_segments_checked_side_by_side_report_what_one_walk_reports(
    tmp_path: Path, trail: list[Segment], damage: str
) -> None:
    """Worker processes checking the segments give the same report as one walk, break and all."""
    if damage == "edit":
        lines = segment_lines(trail[2].path)
        lines[3] = lines[3].replace(b'"event":"e', b'"event":"E', 1)
        put_lines(trail[2].path, lines)
    elif damage == "missing":
        trail[3].path.unlink()
    elif damage == "swap":
        a, b = trail[1].path.read_bytes(), trail[2].path.read_bytes()
        trail[1].path.write_bytes(b)
        trail[2].path.write_bytes(a)
    active = tmp_path / AUDIT_FILE
    anchor = anchor_of(tmp_path).load()
    one = verify_chain(active, None, anchor, parallel=False)
    side_by_side = verify_chain(active, None, anchor, parallel=True)
    assert side_by_side == one
    assert one.intact == (damage == "none")
