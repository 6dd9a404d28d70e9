"""One record before it is sealed, the clock it is stamped with, and where the head is kept."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pydantic import JsonValue

__all__ = ["Anchor", "Entry", "now", "write_all"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One record before it is sealed: when, what kind, and its fields."""

    time: str
    kind: str
    fields: dict[str, JsonValue]


def now() -> str:
    """UTC now, as audit lines write it."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Anchor(Protocol):
    """Where the head is kept apart from the file (the incident store's `AuditAnchor`)."""

    def save(self, seq: int, head: str) -> None:
        """Move the recorded head forward to (seq, head)."""

    def reset(self, seq: int, head: str) -> None:
        """Record (seq, head) even behind the recorded head: after a cut noted in the chain."""

    def load(self) -> tuple[int, str] | None:
        """The recorded head, if any."""

    def save_pruned(self, seq: int, head: str) -> None:
        """Record that the trail is pruned through (seq, head): its kept part starts after."""

    def load_pruned(self) -> tuple[int, str] | None:
        """The (seq, head) the trail was last pruned through, if it ever was."""


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to `fd`, however many writes it takes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
