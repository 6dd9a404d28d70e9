"""Helpers for the segmented audit trail tests: a settable clock, writing, reading segments."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from responder.audit import AUDIT_FILE, AuditLog, AuditSettings
from responder.audit._segments import segments
from responder.incidents import INCIDENTS_FILE, AuditAnchor

if TYPE_CHECKING:
    from pathlib import Path


def settings_of(**fields: object) -> AuditSettings:
    """Audit settings as the configuration file would give them (`segment_bytes=4096`)."""
    return AuditSettings.model_validate(fields)


SMALL = settings_of(segment_bytes=4096, keep_age=None, keep_bytes=None)
"""Segments of 4 KiB (about 20 lines), nothing pruned."""


class Clock:
    """A clock the test moves: UTC, starting on 2026-12-01 at noon."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        """The time it is set to."""
        return self.now

    def advance(self, **delta: float) -> None:
        """Move forward by a timedelta's keywords (days=1)."""
        self.now += timedelta(**delta)


def anchor_of(data_dir: Path) -> AuditAnchor:
    """The incident store's record of the head and the pruned point."""
    return AuditAnchor(data_dir / INCIDENTS_FILE)


async def write(
    data_dir: Path,
    count: int,
    settings: AuditSettings | None = SMALL,
    clock: Clock | None = None,
    *,
    padding: int = 100,
) -> tuple[int, str]:
    """Append `count` records (each about 150 + padding bytes) as the server does; the head."""
    audit = AuditLog(
        data_dir / AUDIT_FILE, anchor=anchor_of(data_dir), settings=settings, clock=clock
    )
    await audit.open()
    for n in range(count):
        audit.record("event.accepted", event=f"e{n}", text="x" * padding)
        if n % 7 == 0:
            await audit.flush()  # several batches, so rotation happens between them
    await audit.flush()
    head = audit.head
    await audit.close()
    return head


def segment_lines(path: Path) -> list[bytes]:
    """The lines of a sealed segment, gzip or not."""
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    return data.splitlines(keepends=True)


def put_lines(path: Path, lines: list[bytes]) -> None:
    """Rewrite a sealed segment with these lines, compressed as its name says."""
    data = b"".join(lines)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def records(data_dir: Path) -> list[dict[str, Any]]:
    """Every record of the trail, oldest first: the segments, then the active file."""
    found: list[dict[str, Any]] = []
    for segment in segments(data_dir / AUDIT_FILE):
        found += [json.loads(line) for line in segment_lines(segment.path)]
    text = (data_dir / AUDIT_FILE).read_text()
    return found + [json.loads(line) for line in text.splitlines()]
