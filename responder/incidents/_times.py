"""Times as the incident store writes them: UTC, ISO 8601, so that they compare as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["now", "window_start"]


def now() -> str:
    """UTC now, ISO 8601."""
    return datetime.now(UTC).isoformat()


def window_start(window: timedelta) -> str:
    """The start of a window ending now, as stored times are written."""
    return (datetime.now(UTC) - window).isoformat()
