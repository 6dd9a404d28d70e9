"""Where reports live on disk, rendering by format, and writing all three atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from responder.reports._html import render_html
from responder.reports._markdown import render_markdown
from responder.reports._paths import report_dir

if TYPE_CHECKING:
    from responder.reports._model import Report

__all__ = ["FORMATS", "ReportFormat", "render", "write_report"]

ReportFormat = Literal["md", "json", "html"]
FORMATS: tuple[ReportFormat, ...] = ("md", "json", "html")
_DIR_MODE = 0o700  # reports quote alert text, evidence paths and hashes: as private as evidence


def render(report: Report, fmt: ReportFormat) -> str:
    """The report as Markdown, JSON or self-contained HTML."""
    if fmt == "md":
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    return report.model_dump_json(indent=2) + "\n"


def write_report(report: Report, data_dir: Path) -> list[Path]:
    """Write report.md, report.json and report.html; each file is whole, old or new, never half.

    Blocking: call it through `asyncio.to_thread` from the event loop.
    """
    directory = report_dir(data_dir, report.incident.id)
    directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    written = []
    for fmt in FORMATS:
        path = directory / f"report.{fmt}"
        _write_atomically(path, render(report, fmt))
        written.append(path)
    _fsync_dir(directory)  # the renames themselves survive a crash
    return written


def _write_atomically(path: Path, text: str) -> None:
    """A temporary file in the same directory, flushed to disk, then renamed over `path`.

    `mkstemp` creates it readable by this user only, and the rename keeps that mode.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


def _fsync_dir(directory: Path) -> None:
    """Flush the directory itself, so the renames in it are on disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
