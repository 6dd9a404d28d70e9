"""A crash at any step of a rotation leaves a trail that verifies, and the next writer tidies it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from typing import TYPE_CHECKING

from _audit_trail import SMALL, anchor_of, records, settings_of, write

from responder.audit import AUDIT_FILE, AuditLog, verify_chain
from responder.audit._segments import segment_dir, segments, write_segment

if TYPE_CHECKING:
    from pathlib import Path


def verify(data_dir: Path) -> tuple[bool, str, tuple[str, ...]]:
    """Intact?, the break, and the notes, with the store's head and pruned point."""
    anchor = anchor_of(data_dir)
    report = verify_chain(data_dir / AUDIT_FILE, None, anchor.load(), anchor.load_pruned())
    return report.intact, repr(report.broken), report.notes


def seal_without_replacing(data_dir: Path) -> str:
    """Step 1 of a rotation done, step 2 not: the active file copied into a segment; its name."""
    active = data_dir / AUDIT_FILE
    lines = active.read_bytes().splitlines(keepends=True)
    first, last = (int(line.split(b'"seq":')[1].split(b",")[0]) for line in (lines[0], lines[-1]))
    fd = os.open(active, os.O_RDONLY)
    try:
        segment = write_segment(fd, active.stat().st_size, active, (first, last), compress=True)
    finally:
        os.close(fd)
    return segment.name


async def test_temporary_files_of_a_rotation_cut_short_are_ignored_then_removed(
    tmp_path: Path,
) -> None:
    """A half-written segment and new active file (dot-named temporaries) change nothing."""
    await write(tmp_path, 60)
    half = segment_dir(tmp_path / AUDIT_FILE) / ".audit-000000000099-000000000120.jsonl.gz.tmp"
    half.write_bytes(b"\x1f\x8b\x08 half a gzip stream")
    rotating = tmp_path / f".{AUDIT_FILE}.rotating"
    rotating.write_bytes(b'{"seq":')
    assert verify(tmp_path)[:2] == (True, "None")
    await write(tmp_path, 60)
    assert not half.exists()
    assert not rotating.exists()
    assert verify(tmp_path)[:2] == (True, "None")


async def test_a_segment_sealed_before_the_new_file_replaced_the_old_verifies(
    tmp_path: Path,
) -> None:
    """Crash after the segment's rename: it repeats the active file's lines; verify notes it."""
    await write(tmp_path, 60)
    name = seal_without_replacing(tmp_path)
    intact, broken, notes = verify(tmp_path)
    assert (intact, broken) == (True, "None")
    assert any(name in note and "rotation was cut short" in note for note in notes)


async def test_the_next_writer_removes_the_repeated_segment_and_carries_on(
    tmp_path: Path,
) -> None:
    """After that crash the next writer drops the copy, rotates again, and the chain holds."""
    await write(tmp_path, 60)
    name = seal_without_replacing(tmp_path)
    await write(tmp_path, 40, settings_of(segment_bytes=1 << 20))  # no rotation due now
    assert name not in [s.name for s in segments(tmp_path / AUDIT_FILE)]
    await write(tmp_path, 60)
    assert verify(tmp_path) == (True, "None", ())
    seqs = [record["seq"] for record in records(tmp_path)]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_a_writer_killed_again_and_again_while_rotating_leaves_a_trail_that_verifies(
    tmp_path: Path,
) -> None:
    """Kill -9 of a writer sealing 4 KiB segments as fast as it can, at several moments."""
    writer = textwrap.dedent(f"""
        import asyncio, pathlib
        from responder.audit import AuditLog, AuditSettings
        from responder.incidents import AuditAnchor
        async def main():
            data = pathlib.Path({str(tmp_path)!r})
            audit = AuditLog(data / "audit.jsonl", anchor=AuditAnchor(data / "incidents.sqlite3"),
                             settings=AuditSettings.model_validate(dict(segment_bytes=4096)))
            await audit.open()
            n = 0
            while True:
                n += 1
                audit.record("event.accepted", n=n, text="z" * 200)
                await audit.flush()
        asyncio.run(main())
    """)
    for round_ in range(5):
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", writer)
        wanted = 2 * (round_ + 1)
        while len(segments(tmp_path / AUDIT_FILE)) < wanted and process.returncode is None:  # noqa: ASYNC110 - files of another process: nothing to await but time
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.003 * round_)  # a different moment of the cycle each time
        process.send_signal(signal.SIGKILL)
        await process.wait()
    await write(tmp_path, 1, SMALL)  # the responder starting again
    assert verify(tmp_path)[:2] == (True, "None")


async def test_a_repeated_segment_that_differs_from_the_active_file_is_kept(
    tmp_path: Path,
) -> None:
    """Only a true copy of the active file's first lines is removed; anything else stays."""
    await write(tmp_path, 60)
    name = seal_without_replacing(tmp_path)
    (tmp_path / AUDIT_FILE).write_bytes(
        (tmp_path / AUDIT_FILE).read_bytes().replace(b"xxxx", b"yyyy", 1)
    )
    await write(tmp_path, 1, settings_of(segment_bytes=1 << 20))
    assert name in [s.name for s in segments(tmp_path / AUDIT_FILE)]


async def test_a_rotation_that_fails_leaves_every_line_in_the_active_file(tmp_path: Path) -> None:
    """No segment directory can be made: counted as an error, lines kept, chain intact."""
    (tmp_path / "audit").write_text("a file where the segments would go")
    errors: list[int] = []
    audit = AuditLog(
        tmp_path / AUDIT_FILE,
        anchor=anchor_of(tmp_path),
        settings=SMALL,
        on_error=lambda: errors.append(1),
    )
    await audit.open()
    for n in range(80):
        audit.record("event.accepted", n=n, text="x" * 100)
        await audit.flush()
    await audit.close()
    assert errors
    assert len((tmp_path / AUDIT_FILE).read_text().splitlines()) == 80
    assert verify(tmp_path)[:2] == (True, "None")
    (tmp_path / "audit").unlink()
    await write(tmp_path, 1)  # the next start rotates
    assert segments(tmp_path / AUDIT_FILE)
    assert verify(tmp_path)[:2] == (True, "None")
