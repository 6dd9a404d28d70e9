"""The report as Markdown, where alert text can never become markup.

Every value goes into a code span or a fenced block whose backtick fence is longer than any
run of backticks in it; in tables, pipes are escaped too (GFM splits cells before it parses
code spans), and line breaks become spaces. Only the responder's own words are plain text,
and even those have their Markdown punctuation escaped.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from responder.reports._text import (
    duration,
    kept,
    pretty_json,
    pretty_source,
    release_steps,
    segments,
    show,
    summary_rows,
    trigger_rows,
    verify_script,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from responder.reports._model import Report

__all__ = ["cell", "code", "fenced", "render_markdown"]

_BACKTICKS = re.compile(r"`+")
_PUNCTUATION = re.compile(r"([\\`*_\[\]<>|~&#])")
_LINE_BREAKS = re.compile(r"[\r\n\t]+")


def code(value: object) -> str:
    """An inline code span no value can close early; `-` for nothing."""
    text = _LINE_BREAKS.sub(" ", show(value))
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space from each end when both are there: pad so that a value
    # starting or ending with a backtick or a space keeps it.
    pad = " " if text[:1] in {"`", " "} or text[-1:] in {"`", " "} else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def cell(value: object) -> str:
    """A table cell: a code span with every pipe escaped, so the row keeps its columns."""
    return code(value).replace("|", "\\|")


def words(text: str) -> str:
    """The responder's own prose on one line, Markdown punctuation escaped."""
    return _PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", show(text)))


def fenced(text: str, info: str = "text") -> str:
    """A fenced block longer than any backtick run inside, so nothing in it can end it."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip(chr(10))}\n{fence}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GFM table: the responder's headers, every value a cell."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines.extend("| " + " | ".join(cell(value) for value in row) + " |" for row in rows)
    return "\n".join(lines)


def _fields(rows: Sequence[tuple[str, object]]) -> str:
    """A two-column table: the responder's labels as words, the values as cells."""
    lines = ["| Field | Value |", "|---|---|"]
    lines.extend(f"| {words(label)} | {cell(value)} |" for label, value in rows)
    return "\n".join(lines)


def render_markdown(report: Report) -> str:
    """The whole report in Markdown (GitHub-flavoured tables and task lists)."""
    parts = [
        f"# Incident report {code(report.incident.id)}",
        *_banner(report),
        _summary(report),
        _timeline(report),
        _evidence(report),
        _release(report),
        _notifications(report),
        _trigger(report),
        _playbook(report),
        _checklist(report),
        _raw(report),
        (
            f"---\n\n{words(report.generated_by)}, {code(report.generated_at)}, "
            f"schema {code(report.schema_version)}"
        ),
    ]
    return "\n\n".join(parts) + "\n"


def _banner(report: Report) -> list[str]:
    """The outcome in bold; a dry-run says first, plainly, that nothing was changed."""
    incident = report.incident
    lines = [f"**{words(incident.outcome)}**"]
    if incident.dry_run:
        lines.insert(0, "> **DRY\\-RUN: NOTHING WAS CHANGED.** No container was touched.")
    return lines


def _summary(report: Report) -> str:
    """State, reason and target in one table."""
    return "## Summary\n\n" + _fields(summary_rows(report))


def _trigger(report: Report) -> str:
    """Count and times of the events, and the first one's output (in full under Raw data)."""
    trigger = report.trigger
    text = "## Triggering events\n\n" + _fields(trigger_rows(report))
    event = trigger.first_event
    if event is None:
        return text + "\n\nThe first event is no longer in the journal\\."
    output = event.get("output")
    if isinstance(output, str) and output:
        text += "\n\n### Output of the first event\n\n" + fenced(output)
    return text


def _playbook(report: Report) -> str:
    """Name, file and version of the playbook (its source is under Raw data)."""
    playbook = report.playbook
    return "## Playbook\n\n" + _fields(
        [
            ("Name", playbook.name),
            ("File", playbook.file),
            ("Version (sha256 of its canonical JSON)", playbook.digest),
            ("Source kept", kept(playbook.source_matches)),
        ]
    )


def _raw(report: Report) -> str:
    """The first event in full and the playbook as it ran: last, as they are long."""
    event, source = report.trigger.first_event, report.playbook.source
    text = "## Raw data"
    if event is not None:
        text += "\n\n### The first event in full\n\n" + fenced(pretty_json(event), "json")
    if source:
        text += "\n\n### Playbook as it ran\n\n" + fenced(pretty_source(source), "json")
    if event is None and not source:
        text += "\n\nNeither the first event nor the playbook's source is kept\\."
    return text


def _timeline(report: Report) -> str:
    """One row per step: start, duration, attempts, result, error, what release did."""
    headers = ["#", "Action", "Status", "Started", "Duration", "Attempts", "Detail", "Error"]
    headers.append("Last release")
    rows = [
        [
            step.index + 1,
            step.action,
            step.status,
            step.started_at,
            duration(step.duration_ms),
            step.attempts,
            step.detail,
            step.error,
            f"{step.release_status}: {step.release_detail}" if step.release_status else None,
        ]
        for step in report.timeline
    ]
    if not rows:
        return "## Timeline\n\nNo step ran\\."
    return "## Timeline\n\n" + _table(headers, rows)


def _evidence(report: Report) -> str:
    """Every artifact and manifest with its hash, then a script that checks them."""
    evidence = report.evidence
    text = f"## Evidence\n\nDirectory: {code(evidence.directory)}"
    if not evidence.files and not evidence.manifests:
        return text + "\n\nNo evidence was collected\\."
    headers = ["Step", "Name", "Kind", "sha256", "Size", "Collected at", "Collected by"]
    headers.append("Truncated")
    rows = [
        [f.step + 1, f.name, f.kind, f.sha256, f.size, f.collected_at, f.collected_by, f.truncated]
        for f in evidence.files
    ]
    text += "\n\n" + _table(headers, rows)
    if evidence.manifests:
        rows = [
            [m.step + 1, m.path, m.sha256, "; ".join(m.errors) or None] for m in evidence.manifests
        ]
        text += "\n\n" + _table(["Step", "Manifest", "sha256", "Not collected"], rows)
    script = verify_script(evidence)
    if script:
        text += "\n\nCheck the files against the recorded hashes:\n\n" + fenced(script, "sh")
    return text


def _notifications(report: Report) -> str:
    """One row per queued notification, with its delivery state."""
    if not report.notifications:
        return "## Notifications\n\nNo notification was queued\\."
    headers = ["Channel", "Kind", "Message", "State", "Attempts", "Last error", "Queued", "Sent"]
    rows = [
        [n.channel, n.kind, n.message, n.state, n.attempts, n.last_error, n.created_at, n.sent_at]
        for n in report.notifications
    ]
    return "## Notifications\n\n" + _table(headers, rows)


def _release(report: Report) -> str:
    """Where release stands, every release so far, and the command that does it."""
    release = report.release
    text = f"## Release\n\nState: {code(release.state)}"
    if release.released_at:
        text += f", at {code(release.released_at)}"
    if not release.needed and release.state == "not released":
        text += "\\. No step left a change to undo\\."
    if release.attempts:
        headers = ["#", "At", "Requested by", "Result", "What each step came to"]
        rows = [
            [a.number, a.at, a.requested_by, a.state, release_steps(a) or "nothing to undo"]
            for a in release.attempts
        ]
        text += "\n\n" + _table(headers, rows)
    return text + "\n\nUndo the containment with:\n\n" + fenced(release.command, "sh")


def _checklist(report: Report) -> str:
    """Each remaining phase as a task list; values as code spans."""
    text = "## Checklist"
    for phase in report.checklist:
        text += f"\n\n### {words(phase.phase)}\n"
        for item in phase.items:
            line = "".join(code(p) if is_value else words(p) for p, is_value in segments(item))
            text += f"\n- [ ] {line}"
    return text
