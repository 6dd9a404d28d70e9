"""Post-incident reports: one per incident, in Markdown, JSON and self-contained HTML."""

from responder.reports._collect import collect_report
from responder.reports._files import FORMATS, ReportFormat, render, write_report
from responder.reports._html import render_html
from responder.reports._markdown import render_markdown
from responder.reports._model import SCHEMA_VERSION, Report, build_report
from responder.reports._parts import ChecklistItem, ChecklistPhase
from responder.reports._paths import report_dir, report_location
from responder.reports._writer import ReportWriter

__all__ = [
    "FORMATS",
    "SCHEMA_VERSION",
    "ChecklistItem",
    "ChecklistPhase",
    "Report",
    "ReportFormat",
    "ReportWriter",
    "build_report",
    "collect_report",
    "render",
    "render_html",
    "render_markdown",
    "report_dir",
    "report_location",
    "write_report",
]
