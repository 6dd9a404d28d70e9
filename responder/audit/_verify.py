"""Verifying the audit trail: every sealed segment in chain order, then the active file, as one.

How a line is checked is in `_walk`; large trails have their segments checked side by side in
worker processes (`_parallel`) and joined in order, with the same result as one walk.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace
from typing import TYPE_CHECKING

from responder.audit._chain import GENESIS, NotARecordError, parse_line, read_lines
from responder.audit._parallel import check_in_parallel, join, worth_it
from responder.audit._report import ChainBreak, ChainReport
from responder.audit._segments import Segment, read_segment, segments
from responder.audit._trail_checks import start_break
from responder.audit._walk import Walk

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["verify_chain"]


def _sources(path: Path, pruned: tuple[int, str] | None) -> tuple[list[Segment], list[str]]:
    """The sealed segments to read in order, and notes on those left out (and why)."""
    found, notes = segments(path), []
    if pruned is not None:
        for segment in [s for s in found if s.last <= pruned[0]]:
            notes.append(f"{segment.name} was pruned (through seq {pruned[0]}) but not yet removed")
            found.remove(segment)
    if found and path.is_file():
        with closing(read_lines(path)) as lines:
            first = next(lines, b"")
        try:
            active_first = parse_line(first)["seq"] if first else None
        except NotARecordError:
            active_first = None
        if active_first is not None and found[-1].first == active_first:
            notes.append(
                f"{found[-1].name} repeats the first lines of {path.name}: a rotation was cut "
                "short; the next writer removes it"
            )
            found.pop()
    return found, notes


def _read_all(walk: Walk, path: Path, found: list[Segment], *, parallel: bool) -> ChainBreak | None:
    """Walk the segments in order (side by side when `parallel`), then the active file."""
    if parallel:
        checks = check_in_parallel(
            found, walk.expect.decode() if walk.expect else None, walk.anchor
        )
        with closing(checks):
            for segment, check in zip(found, checks, strict=True):
                broken = join(walk, check, segment)
                if broken is not None:
                    return broken
    else:
        for segment in found:
            with closing(read_segment(segment.path)) as lines:
                broken = walk.file(segment.name, lines, segment)
            if broken is not None:
                return broken
    with closing(read_lines(path)) as lines:
        return walk.file(str(path), lines, None)


def verify_chain(
    path: Path,
    expect_head: str | None = None,
    anchor: tuple[int, str] | None = None,
    pruned: tuple[int, str] | None = None,
    *,
    parallel: bool | None = None,
) -> ChainReport:
    """Check the whole trail of the active file `path`: its sealed segments, then the file.

    `expect_head` is a head hash noted earlier: it must be the hash of some line, or lines were
    removed from the end (or the trail replaced), which the chain by itself cannot show.
    `anchor` is the head recorded apart from the file with every append (the incident store):
    the line with its seq must carry its hash, so a file cut short or emptied is caught.
    `pruned` is the (seq, hash) the trail was last pruned through, recorded in the same store:
    the oldest line kept must follow it, so a missing oldest segment is caught.
    `parallel` checks the segments in worker processes; None: when the trail is large enough.
    """
    expected = expect_head.lower() if expect_head else None
    walk = Walk(expected, anchor)
    found, notes = _sources(path, pruned)
    wide = worth_it(found) if parallel is None else parallel and bool(found)
    broken = _read_all(walk, path, found, parallel=wide)
    if broken is None and walk.start is not None:
        seq, prev, _ = walk.start
        reason = start_break(seq, prev, pruned, walk.pruned, segmented=bool(found))
        if reason is not None:
            label = found[0].name if found else str(path)
            # Nothing is proven before the oldest line when it does not start the trail.
            return ChainReport(0, 0, GENESIS, ChainBreak(1, reason, label), expected, None, anchor)
    head = walk.head.decode()
    report = ChainReport(walk.count, walk.last_seq, head, broken, expected, walk.found, anchor)
    return replace(report, anchor_line=walk.anchored, files=len(found) + 1, notes=tuple(notes))
