"""What one pruning pass removed (or, dry, would remove) from each store, and what it had to keep."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Removal", "StoreReport"]


@dataclass(slots=True)
class Removal:
    """Rows or directories gone (or that would go) for one reason."""

    reason: str
    count: int = 0
    bytes: int = 0


@dataclass(slots=True)
class StoreReport:
    """One store's share of a pass: what went, its size, and why a budget could not be met."""

    store: str
    removals: list[Removal] = field(default_factory=list)
    size_before: int = 0
    size_after: int = 0
    over_budget: str = ""
    """Empty, or why the size budget is not met: what had to stay, and how much."""
    over_budget_bytes: int = 0

    @property
    def count(self) -> int:
        """Everything removed, whatever the reason."""
        return sum(r.count for r in self.removals)

    @property
    def bytes(self) -> int:
        """The bytes of everything removed (as stored; the file shrinks by about as much)."""
        return sum(r.bytes for r in self.removals)

    def add(self, reason: str, count: int, size: int) -> None:
        """Count `count` items of `size` bytes in all under `reason`."""
        for removal in self.removals:
            if removal.reason == reason:
                removal.count += count
                removal.bytes += size
                return
        self.removals.append(Removal(reason, count, size))

    def to_json(self) -> dict[str, Any]:
        """The report as `gc --json` prints it."""
        return {
            "store": self.store,
            "count": self.count,
            "bytes": self.bytes,
            "size_before": self.size_before,
            "size_after": self.size_after,
            "removals": [
                {"reason": r.reason, "count": r.count, "bytes": r.bytes} for r in self.removals
            ],
            "over_budget": self.over_budget or None,
            "over_budget_bytes": self.over_budget_bytes,
        }
