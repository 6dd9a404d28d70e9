"""The hash chain: the canonical line form, sealing a record, and verifying a whole file.

Each line is the canonical JSON of one record: `seq` (1-based, consecutive), `time`, `kind`,
the record's own fields, `prev` (the previous line's `hash`; 64 zeros on the first line) and
`hash`, the sha256 of the canonical JSON of the record without `hash`. Editing, removing,
inserting or reordering a line breaks the chain at that point. What the file alone cannot show is
a tail cut off after the last line, or a chain rewritten and re-hashed from some point on: compare
the head hash with one noted earlier (`expect_head`) to catch those.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator, Mapping
    from pathlib import Path

    from responder.audit._fields import AuditValue

__all__ = [
    "GENESIS",
    "RESERVED",
    "ChainBreak",
    "ChainReport",
    "NotARecordError",
    "canonical",
    "parse_line",
    "read_lines",
    "seal",
    "verify_chain",
]

GENESIS = "0" * 64
RESERVED = frozenset({"seq", "time", "kind", "prev", "hash"})
_HEX64 = re.compile(r"[0-9a-f]{64}")


def canonical(record: Mapping[str, AuditValue]) -> str:
    """The one text form of a record that is hashed and written: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def seal(
    seq: int, time: str, kind: str, fields: Mapping[str, AuditValue], prev: str
) -> tuple[str, str]:
    """The written line (newline included) and its hash, for a record following `prev`.

    The record is serialised once, in two halves: the keys sorted before "hash" and those
    after. Joined, they are the canonical form that is hashed; with the hash between them,
    the canonical form of the sealed record (sorted keys put "hash" exactly there).
    """
    record: dict[str, AuditValue] = {**fields, "seq": seq, "time": time, "kind": kind, "prev": prev}
    before = canonical({key: value for key, value in record.items() if key < "hash"})[1:-1]
    after = canonical({key: value for key, value in record.items() if key > "hash"})[1:-1]
    digest = _digest("{" + ",".join(part for part in (before, after) if part) + "}")
    sealed = ",".join(part for part in (before, f'"hash":"{digest}"', after) if part)
    return "{" + sealed + "}\n", digest


class NotARecordError(ValueError):
    """A line that is not an audit record at all; the message says what is wrong with it."""


def parse_line(raw: bytes) -> dict[str, Any]:
    """One line as a record with well-typed reserved keys, or NotARecordError saying why not."""
    try:
        record = json.loads(raw)
    except ValueError as exc:  # undecodable bytes as well as bad JSON
        raise NotARecordError(f"not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise NotARecordError("not a JSON object")
    missing = sorted(RESERVED - record.keys())
    if missing:
        raise NotARecordError(f"missing {', '.join(missing)}")
    seq = record["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise NotARecordError("seq is not a positive integer")
    if not isinstance(record["time"], str) or not isinstance(record["kind"], str):
        raise NotARecordError("time or kind is not a string")
    for key in ("prev", "hash"):
        if not isinstance(record[key], str) or not _HEX64.fullmatch(record[key]):
            raise NotARecordError(f"{key} is not a sha256 hex digest")
    return record


def read_lines(path: Path) -> Generator[bytes, None, None]:
    """Every line of the file as it stood when reading began, newline kept; streams large files.

    Writers append whole batches under an exclusive lock, so the size read under a shared lock
    ends on a line boundary: a batch being written meanwhile is not half-read as a torn line.
    """
    with path.open("rb") as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_SH)
        try:
            size = file.seek(0, 2)
        finally:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)
        file.seek(0)
        while size > 0:
            raw = file.readline(size)
            if not raw:
                return
            size -= len(raw)
            yield raw


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place the chain is broken: the 1-based line number and what is wrong there."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What verification found: lines checked, the last good seq and hash, and the first break."""

    lines: int
    last_seq: int
    head: str
    broken: ChainBreak | None = None
    expected_head: str | None = None
    expected_line: int | None = None  # where `expected_head` was found, None when absent
    anchor: tuple[int, str] | None = None
    """The head recorded apart from the file (seq, hash), when there is one."""
    anchor_line: int | None = None  # the line holding the anchor's seq and hash, None when none

    @property
    def intact(self) -> bool:
        """No break; the expected head (when given) and the recorded head are in the chain."""
        return (
            self.broken is None
            and (self.expected_head is None or self.expected_line is not None)
            and (self.anchor is None or self.anchor_line is not None)
        )

    @property
    def anchor_problem(self) -> str | None:
        """Why the recorded head does not fit the file, or None when it does (or there is none)."""
        if self.anchor is None or self.anchor_line is not None:
            return None
        seq, head = self.anchor
        if self.lines == 0:
            return (
                f"the file holds no lines, but the recorded head is seq {seq} ({head}): "
                "the file was emptied or replaced"
            )
        if self.last_seq < seq:
            cut = seq - self.last_seq
            return (
                f"the file ends at seq {self.last_seq}, but the recorded head is seq {seq} "
                f"({head}): {_lines(cut)} cut off the end"
            )
        return (
            f"line seq {seq} does not hold the recorded head {head}: the chain was rewritten "
            "from there on, or the file replaced"
        )


def _missing_later(lines: Iterator[bytes], low: int, high: int) -> int | None:
    """The seq of a later line that falls in the gap (low, high), if any: then it was moved."""
    for raw in lines:
        try:
            seq = json.loads(raw).get("seq")
        except (ValueError, AttributeError):
            continue
        if isinstance(seq, int) and low < seq < high:
            return seq
    return None


def _lines(count: int) -> str:
    return f"{count} line{'s' if count != 1 else ''}"


def _sequence_break(number: int, seq: int, last_seq: int, rest: Iterator[bytes]) -> str | None:
    """Why `seq` cannot follow `last_seq` at line `number`, or None when it is the next one."""
    if seq == last_seq + 1:
        return None
    where = f"line {number}: seq {seq} follows seq {last_seq}"
    if number == 1:
        gone = seq - 1
        return (
            f"line 1: the chain starts at seq {seq}, not 1: {_lines(gone)} removed from the start"
        )
    if seq == last_seq:
        return f"{where}: a line was inserted, duplicated or reordered"
    if seq < last_seq:
        return f"{where}: lines were reordered"
    moved = _missing_later(rest, last_seq, seq)
    if moved is not None:
        return f"{where}: lines were reordered (seq {moved} comes later in the file)"
    return f"{where}: {_lines(seq - last_seq - 1)} removed"


def _line_break(
    number: int, raw: bytes, last_seq: int, head: str, rest: Iterator[bytes]
) -> str | dict[str, Any]:
    """What is wrong with one line given the line before it, or its record when nothing is."""
    if not raw.endswith(b"\n"):
        return (
            f"line {number} is incomplete (no newline at its end): a write cut short by a crash; "
            "the responder removes it at its next start and records audit.recovered"
        )
    try:
        record = parse_line(raw)
    except NotARecordError as exc:
        return f"line {number} is not an audit record: {exc}"
    claimed = record.pop("hash")
    follows = record["prev"] == head
    if _digest(canonical(record)) != claimed:
        if follows:
            return f"line {number} was edited: its content does not match its hash"
        before = "start a chain" if number == 1 else f"follow line {number - 1}"
        return (
            f"line {number} was inserted or edited: its content does not match its hash, "
            f"and it does not {before}"
        )
    record["hash"] = claimed
    if canonical(record).encode() + b"\n" != raw:
        return f"line {number} was edited: its bytes are not the canonical form it was hashed in"
    reason = _sequence_break(number, record["seq"], last_seq, rest)
    if reason is None and not follows:
        reason = (
            "line 1 does not start a chain: its prev is not 64 zeros"
            if number == 1
            else f"line {number} does not follow line {number - 1}: "
            "a line before it was changed, removed or inserted"
        )
    return record if reason is None else reason


def verify_chain(
    path: Path, expect_head: str | None = None, anchor: tuple[int, str] | None = None
) -> ChainReport:
    """Check every line of the file in one pass and report the first break.

    `expect_head` is a head hash noted earlier: it must be the hash of some line, or lines were
    removed from the end (or the file replaced), which the chain by itself cannot show.
    `anchor` is the head recorded apart from the file with every append (the incident store):
    the line with its seq must carry its hash, so a file cut short or emptied is caught.
    """
    expected = expect_head.lower() if expect_head else None
    count, last_seq, head, found, anchored = 0, 0, GENESIS, None, None
    with closing(read_lines(path)) as lines:
        for number, raw in enumerate(lines, start=1):
            checked = _line_break(number, raw, last_seq, head, lines)
            if isinstance(checked, str):
                broken = ChainBreak(number, checked)
                return ChainReport(count, last_seq, head, broken, expected, found, anchor, anchored)
            count, last_seq, head = number, checked["seq"], checked["hash"]
            if head == expected:
                found = number
            if anchor is not None and (last_seq, head) == anchor:
                anchored = number
    return ChainReport(count, last_seq, head, None, expected, found, anchor, anchored)
