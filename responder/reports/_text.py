"""Text both renderers share: checklist segments, durations, pretty JSON, the evidence check script."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import PurePath
from typing import TYPE_CHECKING

from responder.text import strip_controls

if TYPE_CHECKING:
    from responder.reports._model import Report
    from responder.reports._parts import ChecklistItem, EvidenceSection, ReleaseLine

__all__ = [
    "duration",
    "kept",
    "pretty_json",
    "pretty_source",
    "release_steps",
    "segments",
    "show",
    "summary_rows",
    "trigger_rows",
    "verify_script",
]

# File names and hashes safe to put in a shell here-document verbatim; anything else is left out
# of the script (the tables still list it), so a hostile name can never become a command.
_MAX_DEPTH = 2  # a file in the evidence directory, or in a later step's `step-N/` in it
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MS_PER_S = 1000.0


def show(value: object) -> str:
    """A value as a person reads it: `-` for nothing, yes/no for booleans, controls removed."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return strip_controls(str(value))


def duration(ms: float | None) -> str:
    """Milliseconds below a second, seconds above."""
    if ms is None:
        return "-"
    return f"{ms:.0f} ms" if ms < _MS_PER_S else f"{ms / _MS_PER_S:.1f} s"


def kept(source_matches: bool | None) -> str:
    """Whether the playbook's source was kept, and whether it is the version that ran."""
    if source_matches is None:
        return "no"
    return "yes, matches the digest" if source_matches else "yes, but does NOT match the digest"


def segments(item: ChecklistItem) -> list[tuple[str, bool]]:
    """The item as (text, is_value) pieces: the responder's words, and values to show as code."""
    words = item.template.split("{}")
    if len(words) != len(item.values) + 1:  # not ours: show it whole, as a value
        return [(item.text, True)]
    pieces: list[tuple[str, bool]] = []
    for word, value in zip(words, [*item.values, None], strict=True):
        if word:
            pieces.append((word, False))
        if value is not None:
            pieces.append((value, True))
    return pieces


def pretty_json(value: object) -> str:
    """Indented JSON, non-ASCII kept readable (controls were removed when the report was built)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def pretty_source(source: str) -> str:
    """The playbook's canonical JSON, indented; unparseable text is shown as it is.

    The canonical JSON escapes controls; decoding it would bring them back, so they are
    removed again, as from every other string in the report.
    """
    try:
        return strip_controls(pretty_json(json.loads(source)))
    except ValueError:
        return source


def verify_script(evidence: EvidenceSection) -> str | None:
    """Shell lines that check every evidence file (and the manifests) against the recorded hashes.

    Paths are relative to the evidence directory (a later snapshot's files are in `step-N/`);
    a path outside it, or a name that would need quoting, is left to the table.
    """
    directory = PurePath(evidence.directory)
    listed = [(f.sha256, f.path) for f in evidence.files if f.path is not None]
    listed.extend((m.sha256, m.path) for m in evidence.manifests)
    lines = [
        f"{sha256}  {relative}"
        for sha256, path in listed
        if _SHA256.fullmatch(sha256) and (relative := _inside(directory, PurePath(path)))
    ]
    if not lines:
        return None
    body = "\n".join(lines)
    return f"cd {shlex.quote(evidence.directory)}\nsha256sum -c <<'EOF'\n{body}\nEOF"


def _inside(directory: PurePath, path: PurePath) -> str | None:
    """`path` relative to `directory` when it is in it (at most one level down), safe to print."""
    if not path.is_relative_to(directory):
        return None
    parts = path.relative_to(directory).parts
    if not 1 <= len(parts) <= _MAX_DEPTH or not all(_SAFE_NAME.fullmatch(p) for p in parts):
        return None
    return "/".join(parts)


def release_steps(attempt: ReleaseLine) -> str:
    """What one release did to each step, on one line: `3. docker:pause: restored: ...; 2. ...`."""
    return "; ".join(
        f"{step.index + 1}. {step.action}: {step.status}: {step.detail}" for step in attempt.steps
    )


def summary_rows(report: Report) -> list[tuple[str, object]]:
    """The summary table: state, reason and target, as both renderers show it."""
    incident, target = report.incident, report.target
    return [
        ("State", incident.state),
        ("Reason", incident.reason),
        ("Dry-run", incident.dry_run),
        ("Changed a container", incident.changed),
        ("Priority", incident.priority),
        ("Container", target.container_name),
        ("Container id", target.container_id),
        ("Target", target.target),
        ("Image", target.image),
        ("Opened", incident.opened_at),
        ("Finished", incident.finished_at),
        ("Released", incident.released_at),
        ("Report", report.url),
        ("Audit trail head", _head(report)),
    ]


def _head(report: Report) -> str | None:
    """The audit head as a person copies it: seq, then the hash for `--expect-head`."""
    head = report.audit_head
    return f"seq {head.seq}, {head.hash}" if head else None


def trigger_rows(report: Report) -> list[tuple[str, object]]:
    """The triggering events table: count and times."""
    trigger = report.trigger
    return [
        ("Source", trigger.source),
        ("Rule or alert", trigger.name),
        ("Events", trigger.count),
        ("First seen", trigger.first_seen),
        ("Last seen", trigger.last_seen),
        ("First event id", trigger.first_event_id),
    ]
