"""The sections of a report, each a frozen model whose text is free of control characters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue, computed_field, model_validator

from responder.text import strip_controls

__all__ = [
    "AuditHead",
    "ChecklistItem",
    "ChecklistPhase",
    "EvidenceFile",
    "EvidenceSection",
    "IncidentSummary",
    "Manifest",
    "NotificationLine",
    "PlaybookSection",
    "ReleaseLine",
    "ReleaseSection",
    "ReleasedStep",
    "ReportPart",
    "TargetSection",
    "TimelineStep",
    "TriggerSection",
]


def _clean(value: object) -> object:
    """Strings (and mapping keys) without controls, all the way down; other values unchanged."""
    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, Mapping):
        # Two keys that differ only by control characters become one: the later one wins.
        return {_clean(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value


class ReportPart(BaseModel):
    """A frozen section; alert text is stripped of controls as it enters, whoever builds it.

    Cleaning here rather than in each renderer means the JSON form is as safe to `cat` in a
    terminal as the Markdown and HTML ones, and no renderer can forget it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_controls(cls, data: Any) -> Any:  # noqa: ANN401 - whatever pydantic is given
        """Strip controls from every string given, before validation."""
        return _clean(data) if isinstance(data, Mapping) else data


class IncidentSummary(ReportPart):
    """What happened in one look: the final state, why, and whether anything was changed."""

    id: str
    state: str
    reason: str | None
    outcome: str
    """One plain sentence about the state, written by the responder (never alert text)."""
    dry_run: bool
    changed: bool
    """Whether any step changed a container (False for a dry-run, protected, held, ...)."""
    priority: str
    opened_at: str
    finished_at: str | None
    released_at: str | None


class TargetSection(ReportPart):
    """The container acted on, as the incident recorded it."""

    target: str | None
    container_id: str | None
    container_name: str | None
    image: str | None


class TriggerSection(ReportPart):
    """The events that opened and joined the incident, and the first one in full."""

    source: str
    name: str
    count: int
    first_seen: str
    last_seen: str
    first_event_id: str
    first_event: dict[str, JsonValue] | None
    """The first event as journaled (`Event.model_dump(mode="json")`, raw body included)."""


class PlaybookSection(ReportPart):
    """The playbook that ran, identified by the digest of its canonical JSON."""

    name: str
    file: str
    digest: str
    source: str | None
    """The canonical JSON that ran, when the store kept it."""
    source_matches: bool | None
    """Whether the source hashes to the digest (None without a source)."""


class TimelineStep(ReportPart):
    """One step: when it started, how long it took, what came of it, and what release did."""

    index: int
    action: str
    params: dict[str, JsonValue]
    status: str
    started_at: str | None
    duration_ms: float | None
    attempts: int
    detail: str
    error: str | None
    release_status: str | None
    release_detail: str | None


class EvidenceFile(ReportPart):
    """One artifact and where it is; `path` is None for an image (its sha256 is its id)."""

    step: int
    name: str
    kind: str
    sha256: str
    size: int
    collected_at: str
    collected_by: str
    truncated: bool
    path: str | None


class Manifest(ReportPart):
    """A snapshot's manifest file, its hash, and the parts it could not collect."""

    step: int
    path: str
    sha256: str
    errors: tuple[str, ...] = ()


class EvidenceSection(ReportPart):
    """Where the incident's evidence is and what it holds."""

    directory: str
    files: tuple[EvidenceFile, ...]
    manifests: tuple[Manifest, ...]


class NotificationLine(ReportPart):
    """One queued notification and its delivery state."""

    channel: str
    kind: str
    message: str
    """incident or release."""
    state: str
    attempts: int
    last_error: str | None
    created_at: str
    sent_at: str | None


class ReleasedStep(ReportPart):
    """What one release did to one step."""

    index: int
    action: str
    status: str
    """restored, already, failed or nothing."""
    detail: str


class ReleaseLine(ReportPart):
    """One release of the incident: when, who asked, the result, and each step's outcome."""

    number: int
    at: str
    requested_by: str
    state: str
    """released or partially released."""
    steps: tuple[ReleasedStep, ...] = ()


class AuditHead(ReportPart):
    """The audit trail's last line when the report was made: a copy of it that leaves the host.

    `responder audit verify --expect-head HASH` proves later that the trail still holds it.
    """

    seq: int
    hash: str


class ReleaseSection(ReportPart):
    """How to undo the containment, and every release so far."""

    command: str
    needed: bool
    """Whether any step left a change that release would undo."""
    state: str
    """not released, released or partially released (as the last release left it)."""
    released_at: str | None
    """When the last release ran."""
    attempts: tuple[ReleaseLine, ...] = ()
    """Every release, oldest first: a later one never hides an earlier one."""


class ChecklistItem(ReportPart):
    """One unticked to-do; `template` has a `{}` for each value, shown as code by renderers.

    Keeping the values apart from the responder's own words lets Markdown put each one in a
    code span and HTML in a `<code>` element, so alert text never becomes markup.
    """

    template: str
    values: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _derived_text(cls, data: Any) -> Any:  # noqa: ANN401 - whatever pydantic is given
        """Accept the JSON form back: `text` is derived from the other two, never stored."""
        if isinstance(data, Mapping) and "text" in data:
            return {key: value for key, value in data.items() if key != "text"}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def text(self) -> str:
        """The item as plain text."""
        return self.template.format(*self.values)


class ChecklistPhase(ReportPart):
    """One incident-response phase left to the humans."""

    phase: str
    items: tuple[ChecklistItem, ...]
