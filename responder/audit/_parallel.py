"""Sealed segments checked side by side in worker processes, then joined into one chain.

Each segment is walked on its own (its first line taken as where it starts), in a process of
its own: the check of a line is pure Python, so only processes use more than one CPU. The
results are joined in chain order exactly as one walk would have met them: each segment must
follow the one before (`file_start_break`), and the first break in order is the one reported.

The workers are forked: a spawned one would import the whole program again (a second or more
each). Only a process with no other thread running forks by itself (`worth_it`), as the
`responder audit verify` command is.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from responder.audit._report import ChainBreak
from responder.audit._segments import read_segment
from responder.audit._trail_checks import file_start_break
from responder.audit._walk import Walk

if TYPE_CHECKING:
    from collections.abc import Generator

    from responder.audit._segments import Segment

__all__ = ["SegmentCheck", "check_in_parallel", "join", "worth_it"]

_WORTH_IT = 32 << 20  # bytes of sealed segments (compressed) below which one process is quicker


@dataclass(frozen=True, slots=True)
class SegmentCheck:
    """What walking one segment alone found."""

    count: int
    start: tuple[int, str] | None  # its first line's seq and prev, when it is a record
    last_seq: int
    head: bytes
    broken: ChainBreak | None
    pruned: dict[int, str]
    found: int | None
    anchored: int | None
    first_named: str | None


def check_segment(
    segment: Segment, expect: str | None, anchor: tuple[int, str] | None
) -> SegmentCheck:
    """Walk one segment from its own first line (in a worker process)."""
    walk = Walk(expect, anchor)
    with closing(read_segment(segment.path)) as lines:
        broken = walk.file(segment.name, lines, segment)
    start = (walk.start[0], walk.start[1]) if walk.start is not None else None
    return SegmentCheck(
        walk.count,
        start,
        walk.last_seq,
        walk.head,
        broken,
        walk.pruned,
        walk.found,
        walk.anchored,
        walk.first_named,
    )


def worth_it(found: list[Segment]) -> bool:
    """Several segments, enough bytes and more than one CPU: processes pay for themselves."""
    cpus = len(os.sched_getaffinity(0))
    alone = threading.active_count() == 1  # forking a process with threads is not safe
    return alone and cpus > 1 and len(found) > 1 and sum(s.bytes for s in found) >= _WORTH_IT


def check_in_parallel(
    found: list[Segment], expect: str | None, anchor: tuple[int, str] | None
) -> Generator[SegmentCheck, None, None]:
    """Each segment's check, in chain order, computed by a pool of one process per CPU."""
    workers = min(len(found), len(os.sched_getaffinity(0)))
    context = multiprocessing.get_context("fork")  # see the module's doc
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(check_segment, segment, expect, anchor) for segment in found]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def join(walk: Walk, check: SegmentCheck, segment: Segment) -> ChainBreak | None:
    """Add one segment's check to the walk so far; the break it makes, or None."""
    if check.start is None:
        return check.broken  # its first line is not a record: named by the check
    if walk.start is None:
        walk.start = (check.start[0], check.start[1], "")
    else:
        reason = file_start_break(check.start, walk.last_seq, walk.head, walk.previous, segment)
        if reason is None and check.first_named not in (None, walk.previous):
            reason = (
                f"line 1 says the segment before it is {check.first_named!r}, but it follows "
                f"{walk.previous}: segments were renamed or swapped"
            )
        if reason is not None:
            return ChainBreak(1, reason, segment.name)
    if check.found is not None:
        walk.found = walk.count + check.found
    if check.anchored is not None:
        walk.anchored = walk.count + check.anchored
    walk.count += check.count
    walk.last_seq, walk.head = check.last_seq, check.head
    walk.pruned.update(check.pruned)
    walk.previous = segment.name
    return check.broken
