"""What verifying the audit trail found: the first break, the head, and the recorded heads."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ChainBreak", "ChainReport", "plural_lines"]


def plural_lines(count: int) -> str:
    """`1 line`, `3 lines`."""
    return f"{count} line{'s' if count != 1 else ''}"


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place the chain is broken: the 1-based line number and what is wrong there.

    `file` names the file the line is in (a sealed segment's name, or the active file's path)
    when the trail has segments; "" for a single file.
    """

    line: int
    reason: str
    file: str = ""


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
    files: int = 1
    """How many files were read: sealed segments and the active file."""
    notes: tuple[str, ...] = ()
    """What was found and is not a break: leftovers of a rotation or a pruning cut short."""

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
                f"({head}): {plural_lines(cut)} cut off the end"
            )
        return (
            f"line seq {seq} does not hold the recorded head {head}: the chain was rewritten "
            "from there on, or the file replaced"
        )
