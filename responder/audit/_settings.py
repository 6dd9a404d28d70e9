"""How the audit trail rotates and how much of it is kept: its settings section (`audit:`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ByteSize, ConfigDict, Field, field_validator

from responder.durations import PositiveDuration

__all__ = ["AuditSettings"]

_MIN_SEGMENT = 4096  # a segment smaller than a few lines would rotate on nearly every batch


class AuditSettings(BaseModel):
    """Segments of the audit trail: when the active file is sealed, and which sealed ones go."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    segment_bytes: ByteSize = Field(
        default=ByteSize(64 << 20),
        description="the active file is sealed into a segment once it is this large",
    )
    rotate_daily: bool = Field(
        default=True, description="also seal the active file when the UTC day changes"
    )
    compress: bool = Field(default=True, description="gzip sealed segments")
    keep_age: PositiveDuration | None = Field(
        default=timedelta(days=90),
        description="sealed segments closed longer ago than this are deleted; null keeps them",
    )
    keep_bytes: ByteSize | None = Field(
        default=ByteSize(10 << 30),
        description="the oldest sealed segments are deleted while all of them together are "
        "larger; null sets no budget",
    )

    @field_validator("segment_bytes")
    @classmethod
    def _segment_size(cls, value: ByteSize) -> ByteSize:
        if value < _MIN_SEGMENT:
            raise ValueError(
                f"segment_bytes must be at least {_MIN_SEGMENT} bytes (4KiB), got {int(value)}"
            )
        return value

    @field_validator("keep_bytes")
    @classmethod
    def _budget(cls, value: ByteSize | None) -> ByteSize | None:
        if value is not None and value < 1:
            raise ValueError("keep_bytes must be more than 0 bytes; null sets no budget")
        return value
