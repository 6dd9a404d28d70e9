"""The `retention:` settings: how long and how much of each store is kept, and how pruning runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ByteSize, ConfigDict, Field

from responder.durations import PositiveDuration

__all__ = [
    "EvidenceRetention",
    "JournalRetention",
    "OutboxRetention",
    "RetentionSettings",
]

_Model = ConfigDict(frozen=True, extra="forbid")
_MIN_BYTES = 64 * 1024


def _budget(value: ByteSize) -> ByteSize:
    """A size budget below 64 KiB would prune everything as it is written: refuse it."""
    if value < _MIN_BYTES:
        raise ValueError(
            f"a size budget of {value.human_readable()} is too small to keep anything; "
            "write at least 64KiB (e.g. 500MB, 2GiB), or null for no size limit"
        )
    return value


Budget = Annotated[ByteSize, AfterValidator(_budget)]
"""A size budget: `500MB`, `2GiB` or a number of bytes, at least 64 KiB."""


class JournalRetention(BaseModel):
    """Journaled events: incident events and events not yet processed always stay."""

    model_config = _Model

    max_age: PositiveDuration | None = Field(
        default=timedelta(days=30), description="events received longer ago go; null: no limit"
    )
    max_bytes: Budget | None = Field(
        default=ByteSize(2 * 1024**3), description="the journal's size budget; null: no limit"
    )


class EvidenceRetention(BaseModel):
    """Evidence directories: only those of released (or never contained) incidents ever go."""

    model_config = _Model

    max_age: PositiveDuration | None = Field(
        default=timedelta(days=90),
        description="evidence of an incident released (or finished) longer ago goes",
    )
    max_bytes: Budget | None = Field(
        default=ByteSize(10 * 1024**3),
        description="all evidence together; over it, the oldest released goes first",
    )


class OutboxRetention(BaseModel):
    """Outbox rows: only those delivered or finally given up ever go."""

    model_config = _Model

    max_age: PositiveDuration | None = Field(
        default=timedelta(days=30), description="delivered or given-up rows older than this go"
    )


class RetentionSettings(BaseModel):
    """What the service prunes, and how: in small batches, in a thread, every `interval`."""

    model_config = _Model

    enabled: bool = Field(default=True, description="prune in the background while serving")
    interval: PositiveDuration = Field(
        default=timedelta(minutes=10), description="time between two pruning passes"
    )
    batch: int = Field(
        default=500, ge=1, le=10_000, description="rows deleted per transaction (1 to 10000)"
    )
    pause: PositiveDuration = Field(
        default=timedelta(milliseconds=20),
        description="rest between two batches, so intake's commits go first",
    )
    journal: JournalRetention = JournalRetention()
    evidence: EvidenceRetention = EvidenceRetention()
    outbox: OutboxRetention = OutboxRetention()
