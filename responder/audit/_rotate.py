"""Sealing the active file into a segment, and pruning old segments: both by the writer, locked.

Rotation, holding the active file's exclusive lock: (1) its bytes are written to a sealed
segment (temporary file, fsync, rename, fsync of `DATA/audit/`); (2) a new active file holding
one `audit.segment` record (the segment's name, first and last seq, and final head; its `prev`
is that head, so seq and chain just continue) is written to `.audit.jsonl.rotating`, fsynced and
renamed over `audit.jsonl`, and the directory fsynced. A crash before (1) ends leaves a
temporary file (ignored, removed at the next rotation); between (1) and (2) a segment that
repeats the active file's first lines (verify skips it; the next writer removes it).
Other writers waiting on the old file's lock see its inode is no longer `audit.jsonl` and
open the new one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import zlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from responder.audit._chain import NotARecordError, parse_line, seal
from responder.audit._entry import Anchor, Entry
from responder.audit._prune import prune_plan, remove_segments
from responder.audit._segments import (
    Segment,
    fsync_dir,
    read_segment,
    remove_temporaries,
    segments,
    write_segment,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from pydantic import JsonValue

    from responder.audit._settings import AuditSettings

__all__ = ["Rotation", "utc_now"]

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_PRUNE_EVERY = 3600.0  # seconds between looks for segments to prune (and after each rotation)
_RETRY_ROTATION = 60.0  # seconds before a rotation that failed (a full disk) is tried again


def utc_now() -> datetime:
    """The real clock: now, in UTC."""
    return datetime.now(UTC)


def first_record(fd: int, size: int) -> tuple[int, str] | None:
    """The seq and UTC day of the open file's first line; None when it has none readable."""
    line, offset = b"", 0
    while offset < size and b"\n" not in line:
        chunk = os.pread(fd, min(_CHUNK, size - offset), offset)
        if not chunk:
            break
        line += chunk
        offset += len(chunk)
    if b"\n" not in line:
        return None
    try:
        record = parse_line(line[: line.index(b"\n") + 1])
    except NotARecordError:
        return None
    return record["seq"], record["time"][:10]


def seal_active(fd: int, size: int, active: Path, seqs: tuple[int, int], *, compress: bool) -> Path:
    """Step 1: the active file's bytes as a sealed segment (leftovers of a crash removed)."""
    remove_temporaries(active)
    return write_segment(fd, size, active, seqs, compress=compress)


def new_active_file(
    active: Path, segment: Path, first: int, chain: tuple[int, str], time: datetime
) -> tuple[int, str, int]:
    """Step 2: the new active file, its one record naming the segment; (seq, hash, size)."""
    last, head = chain
    fields: dict[str, JsonValue] = {
        "segment": segment.name,
        "first_seq": first,
        "last_seq": last,
        "last_hash": head,
    }
    line, digest = seal(
        last + 1, time.isoformat(timespec="microseconds"), "audit.segment", fields, head
    )
    data = line.encode()
    temporary = active.parent / f".{active.name}.rotating"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    temporary.replace(active)
    fsync_dir(active.parent)
    return last + 1, digest, len(data)


def _holds(fd: int, size: int, segment: Segment) -> bool:
    """Whether the open active file begins with every byte of the segment's lines."""
    offset = 0
    with contextlib.closing(read_segment(segment.path)) as lines:
        try:
            for line in lines:
                if offset + len(line) > size or os.pread(fd, len(line), offset) != line:
                    return False
                offset += len(line)
        except (OSError, EOFError, zlib.error):
            return False
    return offset > 0


def drop_repeated_segment(fd: int, size: int, active: Path, active_first: int) -> None:
    """Remove a newest segment that repeats the active file's lines (a rotation cut short).

    Only when the active file really begins with all of it: a segment that holds anything
    the active file does not is left for `audit verify` to show.
    """
    found = segments(active)
    if not found or found[-1].first != active_first:
        return
    if not _holds(fd, size, found[-1]):
        log.error("audit log %s: %s overlaps it but differs; left alone", active, found[-1].name)
        return
    log.warning("audit log %s: removing %s, left by a rotation cut short", active, found[-1].name)
    found[-1].path.unlink()
    fsync_dir(found[-1].path.parent)


class Rotation:
    """When the writer seals its active file, and which segments it prunes; under its lock."""

    def __init__(
        self, active: Path, settings: AuditSettings, clock: Callable[[], datetime]
    ) -> None:
        self.active = active
        self.settings = settings
        self.clock = clock
        self.first: tuple[int, str] | None = None  # the active file's first seq and UTC day
        self._prune_after = 0.0  # monotonic time of the next look for segments to prune
        self._pruning: tuple[list[str], int, str] | None = None  # names, through seq and hash
        self._leftovers: list[str] = []  # pruned on record, not yet deleted (a crash)
        self._hold_until = 0.0  # monotonic time before which a failed rotation is not retried

    def found(self, fd: int, size: int, first: tuple[int, str] | None) -> None:
        """The active file as read again: its first line, and a rotation a crash cut short."""
        self.first = first
        if self.first is not None:
            drop_repeated_segment(fd, size, self.active, self.first[0])

    def due(self, size: int) -> bool:
        """The active file is over `segment_bytes`, or was begun on an earlier UTC day."""
        if self.first is None or size == 0 or time.monotonic() < self._hold_until:
            return False
        if size >= self.settings.segment_bytes:
            return True
        return self.settings.rotate_daily and self.first[1] != self.clock().date().isoformat()

    def rotate(self, fd: int, size: int, chain: tuple[int, str]) -> tuple[int, str, int]:
        """Seal the active file and start a new one; its (seq, hash, size)."""
        assert self.first is not None  # noqa: S101 - due() said so
        first, now = self.first[0], self.clock()
        try:
            # A copy left by a rotation of ours that failed half-way would overlap the new one.
            drop_repeated_segment(fd, size, self.active, first)
            segment = seal_active(
                fd, size, self.active, (first, chain[0]), compress=self.settings.compress
            )
            seq, head, new_size = new_active_file(self.active, segment, first, chain, now)
        except OSError:
            self._hold_until = time.monotonic() + _RETRY_ROTATION
            raise
        log.info("audit log %s: sealed seqs %d..%d into %s", self.active, first, chain[0], segment)
        self.first = (seq, now.date().isoformat())
        self._prune_after = 0.0
        return seq, head, new_size

    def plan_pruning(self, anchor: Anchor | None) -> list[Entry]:
        """Now and then: the `audit.pruned` record to write before segments are deleted."""
        if time.monotonic() < self._prune_after:
            return []
        self._prune_after = time.monotonic() + _PRUNE_EVERY
        self._leftovers = self._pruned_already(anchor)
        planned = prune_plan(self.active, self.settings, self.clock())
        if planned is None:
            return []
        plan, fields = planned
        names = [item.segment.name for item in plan]
        self._pruning = (names, plan[-1].segment.last, str(fields["through_hash"]))
        return [Entry(self.clock().isoformat(timespec="microseconds"), "audit.pruned", fields)]

    def _pruned_already(self, anchor: Anchor | None) -> list[str]:
        """Segments at or before the pruned point on record: a deletion a crash cut short."""
        try:
            point = anchor.load_pruned() if anchor is not None else None
        except Exception as exc:  # noqa: BLE001 - a store we cannot read must not stop the audit
            log.warning("audit log %s: the pruned point could not be read: %s", self.active, exc)
            return []
        if point is None:
            return []
        return [segment.name for segment in segments(self.active) if segment.last <= point[0]]

    def prune(self, anchor: Anchor | None, on_error: Callable[[], None]) -> None:
        """After `audit.pruned` is written: record the new oldest point, then delete."""
        if self._leftovers:
            remove_segments(self.active, self._leftovers)
            self._leftovers = []
        if self._pruning is None:
            return
        names, through, head = self._pruning
        self._pruning = None
        if anchor is not None:
            try:
                anchor.save_pruned(through, head)
            except Exception as exc:  # noqa: BLE001 - keep the segments; the next look retries
                log.warning("audit log %s: the pruned point was not recorded: %s", self.active, exc)
                on_error()
                self._prune_after = 0.0
                return
        remove_segments(self.active, names)
        log.info("audit log %s: pruned %s (through seq %d)", self.active, ", ".join(names), through)
