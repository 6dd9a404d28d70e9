"""Where an incident's report is: its directory on this host, and its address in messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["report_dir", "report_location"]


def report_dir(data_dir: Path, incident_id: str) -> Path:
    """The directory holding one incident's report files."""
    return data_dir / "reports" / incident_id


def report_location(incident_id: str, data_dir: Path, public_url: str | None) -> str:
    """The report's URL when the responder has a public address, else its path on this host."""
    if public_url:
        return f"{public_url.rstrip('/')}/v1/incidents/{incident_id}/report?format=html"
    return str(report_dir(data_dir.resolve(), incident_id) / "report.md")
