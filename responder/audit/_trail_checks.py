"""How the files of a trail fit together: where it starts, and each segment against its name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from responder.audit._chain import GENESIS
from responder.audit._report import plural_lines

if TYPE_CHECKING:
    from responder.audit._segments import Segment

__all__ = ["file_start_break", "segment_end_break", "start_break"]


def file_start_break(
    record: tuple[int, str],
    last_seq: int,
    head: bytes,
    previous: str | None,
    segment: Segment | None,
) -> str | None:
    """Why the first line of a file does not fit its name or the file before it, or None."""
    seq, prev = record
    if segment is not None and seq != segment.first:
        return (
            f"line 1 holds seq {seq}, but the segment's name says it starts at seq "
            f"{segment.first}: segments were renamed or swapped"
        )
    if previous is None:
        return None
    if seq > last_seq + 1:
        return (
            f"line 1: seq {seq} follows seq {last_seq} at the end of {previous}: the segment "
            f"holding seqs {last_seq + 1}..{seq - 1} is missing"
        )
    if seq <= last_seq:
        return (
            f"line 1: seq {seq} follows seq {last_seq} at the end of {previous}: "
            "segments overlap or are out of order"
        )
    if prev.encode() != head:
        return (
            f"line 1 does not follow the last line of {previous}: its prev is not that "
            "line's hash (a segment was replaced or rewritten)"
        )
    return None


def segment_end_break(segment: Segment, lines: int, last_seq: int) -> str | None:
    """Why a fully read segment does not hold what its name says, or None."""
    if lines == 0:
        return "the segment holds no lines: it was emptied"
    if last_seq < segment.last:
        return (
            f"the segment ends at seq {last_seq}, but its name says seq {segment.last}: "
            f"{plural_lines(segment.last - last_seq)} cut off its end"
        )
    if last_seq > segment.last:
        return (
            f"the segment goes on to seq {last_seq}, past the seq {segment.last} its name says: "
            "segments were renamed or joined"
        )
    return None


def start_break(
    seq: int,
    prev: str,
    pruned: tuple[int, str] | None,
    pruned_in_chain: dict[int, str],
    *,
    segmented: bool,
) -> str | None:
    """Why the oldest line kept cannot start the trail, or None.

    It starts the chain (seq 1 after 64 zeros), or follows the point the trail was pruned
    through: the one recorded in the incident store, or without one, an `audit.pruned` record.
    """
    if (seq, prev) == (1, GENESIS):
        return None
    if pruned is None:
        if pruned_in_chain.get(seq - 1) == prev:
            return None
        why = (
            f"line 1: the chain starts at seq {seq}, not 1: "
            f"{plural_lines(seq - 1)} removed from the start"
        )
        if segmented:
            why += " (the oldest segment is missing, and no prune record covers it)"
        return why if seq != 1 else "line 1 does not start a chain: its prev is not 64 zeros"
    through, at = pruned
    if (seq - 1, prev) == (through, at):
        return None
    if seq - 1 > through:
        return (
            f"line 1: the trail was pruned through seq {through}, but it starts at seq {seq}: "
            f"the segment holding seqs {through + 1}..{seq - 1} is missing"
        )
    return (
        f"line 1 (seq {seq}) does not follow the point the trail was pruned through "
        f"(seq {through}, {at}): the oldest segment was replaced or rewritten"
    )
