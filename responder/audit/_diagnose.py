"""Why a line breaks the chain: the slow, exact reading of a line the fast check did not pass."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from responder.audit._chain import NotARecordError, canonical, digest, parse_line
from responder.audit._report import plural_lines

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["line_break"]


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


def _sequence_break(number: int, seq: int, last_seq: int, rest: Iterator[bytes]) -> str | None:
    """Why `seq` cannot follow `last_seq` at line `number`, or None when it is the next one."""
    if seq == last_seq + 1:
        return None
    where = f"line {number}: seq {seq} follows seq {last_seq}"
    if number == 1:
        gone = seq - 1
        return f"line 1: the chain starts at seq {seq}, not 1: {plural_lines(gone)} removed from the start"
    if seq == last_seq:
        return f"{where}: a line was inserted, duplicated or reordered"
    if seq < last_seq:
        return f"{where}: lines were reordered"
    moved = _missing_later(rest, last_seq, seq)
    if moved is not None:
        return f"{where}: lines were reordered (seq {moved} comes later in the file)"
    return f"{where}: {plural_lines(seq - last_seq - 1)} removed"


def line_break(
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
    if digest(canonical(record)) != claimed:
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
