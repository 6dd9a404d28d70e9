"""Which sealed segments the retention settings let go, oldest first, and why.

`prunable_segments` only looks; it is what `responder gc --dry-run` prints. The audit writer
deletes the same segments, after recording in the chain (`audit.pruned`) and in the incident
store the seq and hash the trail is then pruned through, so `audit verify` still knows where
the kept trail must start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from responder.audit._segments import AUDIT_FILE, Segment, segments
from responder.durations import format_duration

if TYPE_CHECKING:
    from pathlib import Path

    from responder.audit._settings import AuditSettings

__all__ = ["Prunable", "plan_pruning", "prunable_segments"]


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
