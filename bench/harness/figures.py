"""Figures: percentiles, spreads, ratios, aligned tables, verdicts, and every figure as JSON."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence
    from pathlib import Path


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, p90, max and min."""
    return {
        "median": statistics.median(values),
        "p90": percentile(values, 90),
        "max": max(values),
        "min": min(values),
    }


@dataclass(frozen=True)
class Spread:
    """When each container of a fleet reached a milestone: s from the first request or call."""

    first_s: float
    median_s: float
    last_s: float

    @classmethod
    def of(cls, start_ns: int, stamps: Collection[int]) -> Spread:
        """From host-clock timestamps (ns since the epoch)."""
        offsets = sorted((t - start_ns) / 1e9 for t in stamps)
        return cls(offsets[0], statistics.median(offsets), offsets[-1])


def ratio(ours: float | None, reference: float | None) -> str:
    """`ours / reference` to two places, or `n/a` when either is missing or the reference is 0."""
    return f"{ours / reference:.2f}" if ours is not None and reference else "n/a"


def verdict(held: bool) -> str:
    """How a target is reported: `met` or `NOT met`."""
    return "met" if held else "NOT met"


def odd_statuses(statuses: Mapping[str, int]) -> str:
    """`503 x 12, 500 x 1` for the answers outside 2xx, most frequent first."""
    odd = [(s, n) for s, n in statuses.items() if not s.startswith("2")]
    return ", ".join(f"{s} x {n}" for s, n in sorted(odd, key=lambda item: -item[1]))


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1, indent: str = "  "
) -> None:
    """Aligned columns: the first `left` to the left, the rest to the right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        cells = [
            cell.ljust(w) if i < left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        print(indent + "  ".join(cells).rstrip())


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Every figure as JSON, for comparing runs later; says where."""
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"results written to {path}")
