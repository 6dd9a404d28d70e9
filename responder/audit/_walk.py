"""One walk along the chain: the check of a line on its bytes, and the state it carries.

Most lines are checked on their bytes: the line has the next seq, holds `"prev":"<head>"`, and
the sha256 of its bytes without the `"hash":"..."` member is that hash. The writer hashes the
canonical form, so these bytes are the canonical form it sealed; the next line's `prev` (or the
recorded head, for the last) proves the hash. A line that fails any of this, the first line of
each file, and the trail's own `audit.*` records are parsed in full (`line_break`), which names
exactly what is wrong; so a break is reported with the same reason as a full parse would give.
"""

from __future__ import annotations

import gzip
import zlib
from hashlib import sha256
from typing import TYPE_CHECKING, Any

from responder.audit._chain import GENESIS, NotARecordError, parse_line
from responder.audit._diagnose import line_break
from responder.audit._report import ChainBreak
from responder.audit._trail_checks import file_start_break, segment_end_break

if TYPE_CHECKING:
    from collections.abc import Iterator

    from responder.audit._segments import Segment

__all__ = ["Walk"]

_HASH = b'"hash":"'
_PREV = b'"prev":"'
_AUDIT_KIND = b'"kind":"audit.'
_AFTER_SEQ = (b",", b"}")
_DAMAGE = (EOFError, gzip.BadGzipFile, zlib.error, OSError)


def _fast(raw: bytes, seq: int, head: bytes) -> bytes | None:
    """The line's hash when its bytes show it is line `seq` after `head`; None: read it in full.

    Every condition must hold; they are tested cheapest-to-fail first. Slices, not indexes:
    a line cut short must not raise.
    """
    at = raw.find(_HASH)
    end = at + 73
    if at < 1 or raw[end - 1 : end] != b'"':
        return None
    if raw[at - 1 : at] == b",":
        body = raw[: at - 1] + raw[end:-1]
    elif raw[end : end + 1] == b",":
        body = raw[:at] + raw[end + 1 : -1]
    else:
        return None
    claimed = raw[at + 8 : end - 1]
    if raw[-1:] != b"\n" or sha256(body).hexdigest().encode() != claimed:
        return None
    at = raw.find(_PREV)
    # The first "prev" key may be one nested in a field; then look for the whole member.
    nested = raw[at + 8 : at + 73] != head + b'"'
    if nested and _PREV + head + b'"' not in raw:
        return None
    mark = b'"seq":%d' % seq
    at = raw.find(mark) + len(mark)
    if at < len(mark) or raw[at : at + 1] not in _AFTER_SEQ:
        return None
    return claimed


class Walk:
    """The chain as read so far, across files; `file()` reads one more file of it."""

    def __init__(self, expect: str | None, anchor: tuple[int, str] | None) -> None:
        self.count, self.last_seq, self.head = 0, 0, GENESIS.encode()
        self.start: tuple[int, str, str] | None = None  # first seq, its prev, the file
        self.expect = expect.encode() if expect else None
        self.found: int | None = None
        self.anchor = anchor
        self.anchor_seq, self.anchor_hash = anchor or (-1, "")
        self.anchored: int | None = None
        self.pruned: dict[int, str] = {}  # through seq -> hash, from `audit.pruned` records
        self.previous: str | None = None  # the file read before this one
        self.number = 0  # lines read of the file being read
        self.first_named: str | None = None  # the segment a file's first `audit.segment` names

    def file(
        self, label: str, lines: Iterator[bytes], segment: Segment | None
    ) -> ChainBreak | None:
        """Check every line of one file; the first break in it, or None."""
        self.number = 0
        try:
            reason = self._lines(lines, segment)
        except _DAMAGE as exc:
            why = (
                f"cannot be read past line {self.number} ({exc}): the file is cut short or damaged"
            )
            return ChainBreak(self.number + 1, why, label)
        if reason is not None:
            return ChainBreak(self.number, reason, label)
        self.previous = label
        if segment is None:
            return None
        reason = segment_end_break(segment, self.number, self.last_seq)
        return None if reason is None else ChainBreak(max(self.number, 1), reason, label)

    def _lines(self, lines: Iterator[bytes], segment: Segment | None) -> str | None:
        """The loop over every line of a file: why it breaks, or None; `number` lines read."""
        # Long on purpose: it runs once per line of the trail; locals, not attributes, and
        # no calls but the check itself (see the module's doc).
        number, count, seq, head = 0, self.count, self.last_seq, self.head
        expect, anchor_seq, anchor_hash = self.expect, self.anchor_seq, self.anchor_hash.encode()
        found, anchored = self.found, self.anchored
        try:
            for raw in lines:
                number += 1
                claimed = _fast(raw, seq + 1, head) if number > 1 else None
                if claimed is None or _AUDIT_KIND in raw:
                    self.last_seq, self.head = seq, head
                    reason = self._slow(number, raw, lines, segment)
                    if reason is not None:
                        return reason
                    seq, head = self.last_seq, self.head
                else:
                    seq += 1
                    head = claimed
                count += 1
                if head == expect:
                    found = count
                if seq == anchor_seq and head == anchor_hash:
                    anchored = count
        finally:
            self.number, self.count, self.found, self.anchored = number, count, found, anchored
            self.last_seq, self.head = seq, head
        return None

    def _slow(
        self, number: int, raw: bytes, rest: Iterator[bytes], segment: Segment | None
    ) -> str | None:
        """Read the line in full: why it breaks the chain, or None after taking it as the head."""
        if number == 1:
            reason = self._first_of_file(raw, segment)
            if reason is not None:
                return reason
        checked = line_break(number, raw, self.last_seq, self.head.decode(), rest)
        if isinstance(checked, str):
            return checked
        self.last_seq, self.head = checked["seq"], checked["hash"].encode()
        return self._audit_record(number, checked)

    def _first_of_file(self, raw: bytes, segment: Segment | None) -> str | None:
        """The first line of a file: where the trail starts, or how it follows the file before."""
        try:
            record = parse_line(raw)
        except NotARecordError:
            return None  # line_break names it
        if self.start is None:  # the oldest line kept: judged once the prune records are read
            self.start = (record["seq"], record["prev"], self.previous or "")
            self.last_seq, self.head = record["seq"] - 1, record["prev"].encode()
        return file_start_break(
            (record["seq"], record["prev"]), self.last_seq, self.head, self.previous, segment
        )

    def _audit_record(self, number: int, record: dict[str, Any]) -> str | None:
        """The trail's own records: a new file's `audit.segment`, and `audit.pruned`."""
        kind = record["kind"]
        if kind == "audit.pruned":
            through, at = record.get("through_seq"), record.get("through_hash")
            if isinstance(through, int) and isinstance(at, str):
                self.pruned[through] = at
        if kind != "audit.segment" or number != 1:
            return None
        named = record.get("segment")
        self.first_named = named if isinstance(named, str) else None
        if self.previous is not None and named != self.previous:
            return (
                f"line 1 says the segment before it is {named!r}, but it follows "
                f"{self.previous}: segments were renamed or swapped"
            )
        return None
