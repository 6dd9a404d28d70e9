"""The end of the audit file: the head of its chain, and a torn last line left by a crash."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from responder.audit._chain import GENESIS, NotARecordError, parse_line

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import JsonValue

__all__ = ["TornTail", "cut_torn_tail", "last_line_head"]

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_KEPT_TEXT = 4096  # bytes of a torn line kept readable in audit.recovered; the hash covers all


@dataclass(frozen=True, slots=True)
class TornTail:
    """What was cut off the end of the file: its size, its sha256, and the start of it as text."""

    removed_bytes: int
    sha256: str
    text: str

    def fields(self) -> dict[str, JsonValue]:
        """The fields of the `audit.recovered` record."""
        return {
            "removed_bytes": self.removed_bytes,
            "removed_sha256": self.sha256,
            "removed_text": self.text,
        }


def last_newline(fd: int, end: int) -> int:
    """The offset of the last newline before `end`, or -1; reads backwards a chunk at a time."""
    while end > 0:
        start = max(0, end - _CHUNK)
        found = os.pread(fd, end - start, start).rfind(b"\n")
        if found >= 0:
            return start + found
        end = start
    return -1


def cut_torn_tail(fd: int, size: int) -> TornTail | None:
    """Truncate bytes after the last newline (a write cut short), saying what they were.

    The caller holds the exclusive lock, so no live writer is part-way through a line.
    """
    start = last_newline(fd, size) + 1
    if start == size:
        return None
    digest, kept, offset = hashlib.sha256(), b"", start
    while offset < size:  # streamed: a torn tail of any size costs one chunk of memory
        chunk = os.pread(fd, min(_CHUNK, size - offset), offset)
        if not chunk:
            break
        digest.update(chunk)
        kept += chunk[: max(0, _KEPT_TEXT - len(kept))]
        offset += len(chunk)
    os.ftruncate(fd, start)
    return TornTail(size - start, digest.hexdigest(), kept.decode("utf-8", "replace"))


def last_line_head(fd: int, size: int, path: Path) -> tuple[int, str]:
    """The seq and hash of the line ending at `size`; (0, 64 zeros) for an empty file."""
    if size == 0:
        return 0, GENESIS
    begin = last_newline(fd, size - 1) + 1
    raw = os.pread(fd, size - begin, begin)
    try:
        record = parse_line(raw)
    except NotARecordError as exc:
        # Refusing to write would lose every later decision; the break is already there to see.
        log.error(  # noqa: TRY400 - the reason is in the message; a traceback adds nothing
            "audit log %s: the last line is not an audit record (%s): the chain is broken there",
            path,
            exc,
        )
        return 0, hashlib.sha256(raw).hexdigest()
    return record["seq"], record["hash"]
