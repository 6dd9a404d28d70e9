"""Which sealed segments the retention settings let go, oldest first, and why.

`prunable_segments` only looks; it is what `responder gc --dry-run` prints. The audit writer
deletes the same segments, after recording in the chain (`audit.pruned`) and in the incident
store the seq and hash the trail is then pruned through, so `audit verify` still knows where
the kept trail must start.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from responder.audit._chain import NotARecordError, parse_line
from responder.audit._segments import AUDIT_FILE, Segment, fsync_dir, read_segment, segments
from responder.durations import format_duration

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import JsonValue

    from responder.audit._settings import AuditSettings

__all__ = ["Prunable", "plan_pruning", "prunable_segments", "prune_plan", "remove_segments"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Prunable:
    """A sealed segment the settings let go, and the reason in words."""

    segment: Segment
    reason: str

    @property
    def path(self) -> Path:
        """The segment's file."""
        return self.segment.path

    @property
    def bytes(self) -> int:
        """Its size on disk: what deleting it frees."""
        return self.segment.bytes


def _closed(segment: Segment) -> datetime:
    """When the segment was sealed: its file's modification time."""
    return datetime.fromtimestamp(segment.mtime, UTC)


def prunable_segments(data_dir: Path, settings: AuditSettings, now: datetime) -> list[Prunable]:
    """The sealed segments of the data directory's trail that may be deleted, oldest first.

    Only a run of the oldest segments goes (the kept trail must stay one chain): each is older
    than `keep_age` (sealed before `now - keep_age`), or the sealed segments together are over
    `keep_bytes` while it is kept. The active file is never listed. Pure: nothing is changed.
    """
    return plan_pruning(data_dir / AUDIT_FILE, settings, now)


def plan_pruning(active: Path, settings: AuditSettings, now: datetime) -> list[Prunable]:
    """`prunable_segments` for the trail of the active file `active`."""
    found = segments(active)
    total = sum(segment.bytes for segment in found)
    chosen = []
    for segment in found:
        closed = _closed(segment)
        if settings.keep_age is not None and now - closed > settings.keep_age:
            reason = (
                f"sealed {closed.isoformat(timespec='seconds')}, "
                f"older than audit.keep_age ({format_duration(settings.keep_age)})"
            )
        elif settings.keep_bytes is not None and total > settings.keep_bytes:
            reason = (
                f"sealed segments hold {total} bytes, over audit.keep_bytes "
                f"({settings.keep_bytes.human_readable()})"
            )
        else:
            break
        chosen.append(Prunable(segment, reason))
        total -= segment.bytes
    return chosen


def _first_line(segment: Segment | None, active: Path) -> bytes:
    if segment is not None:
        with contextlib.closing(read_segment(segment.path)) as lines:
            return next(lines, b"")
    with active.open("rb") as file:
        return file.readline()


def prune_plan(
    active: Path, settings: AuditSettings, now: datetime
) -> tuple[list[Prunable], dict[str, JsonValue]] | None:
    """The segments to delete and the `audit.pruned` record's fields; None when none go.

    The record names the seq and hash the trail is pruned through: the `prev` of the first
    line kept, which must be the next seq (anything else is left alone, for verify to show).
    """
    plan = plan_pruning(active, settings, now)
    if not plan:
        return None
    kept = segments(active)[len(plan) :]
    through = plan[-1].segment.last
    try:
        record = parse_line(_first_line(kept[0] if kept else None, active))
    except (NotARecordError, OSError, EOFError) as exc:
        log.error("audit log %s: not pruning, the first line kept is unreadable: %s", active, exc)  # noqa: TRY400 - the reason is in the message
        return None
    if record["seq"] != through + 1:
        log.error(
            "audit log %s: not pruning, seq %d does not follow seq %d",
            active,
            record["seq"],
            through,
        )
        return None
    fields: dict[str, JsonValue] = {
        "segments": [item.segment.name for item in plan],
        "reasons": [item.reason for item in plan],
        "bytes": sum(item.bytes for item in plan),
        "through_seq": through,
        "through_hash": record["prev"],
    }
    return plan, fields


def remove_segments(active: Path, names: list[str]) -> None:
    """Delete sealed segments by name (missing ones are fine), then fsync the directory."""
    directory = active.parent / "audit"
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
    if names:
        fsync_dir(directory)
