"""Playbook unit tests, in the spirit of `promtool test rules`: an event in, matches and steps out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from responder.engine import ContainerInfo, answers_to, is_container_ref, is_id_prefix, reference
from responder.errors import ConfigError, InputError
from responder.intake.bodies import events_from_body
from responder.planning._plan import plan_event
from responder.playbooks._loader import TEST_SUFFIXES
from responder.settings import describe_problem, find_files, load_yaml_documents

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from responder.actions import ActionRegistry
    from responder.journal import Event
    from responder.playbooks import PlaybookSet
    from responder.settings import Protection, TargetRules
    from responder.text import Templates

__all__ = ["CaseFile", "CaseResult", "describe_result", "find_case_files", "load_cases", "run_case"]

_Strict = ConfigDict(frozen=True, extra="forbid")
_MADE_UP_ID = "0123456789ab" + "0" * 52


class ExpectedMatch(BaseModel):
    """A playbook expected to match, and optionally the actions it would run, in order."""

    model_config = _Strict

    playbook: str
    steps: list[str] | None = None
    skipped: list[str] | None = None
    failed: list[str] | None = None
    """Steps the run would fail without trying: no container the alert names was found."""
    state: str | None = None
    """Where a safety rule stops its container steps: resolved, failed, protected (else none)."""


class LiveContainer(BaseModel):
    """The container as the engine would describe it during the test.

    Without an `id`, it has the one the event names (or a made-up one): it is the container
    the alert names. With one, the run's rule decides whether the alert names it at all.
    """

    model_config = _Strict

    name: str
    id: str | None = None
    image: str = ""
    labels: dict[str, str] = {}
    status: str = "running"


class Case(BaseModel):
    """One test: an event body as a sender would post it, and what should happen."""

    model_config = _Strict

    name: str
    event: dict[str, JsonValue] | None = None
    event_file: str | None = None
    container: LiveContainer | None = None
    expect: list[ExpectedMatch]

    @model_validator(mode="after")
    def _one_event(self) -> Case:
        if (self.event is None) == (self.event_file is None):
            raise ValueError("give exactly one of event or event_file")
        return self


class CaseFile(BaseModel):
    """A `*.test.yaml` file."""

    model_config = _Strict

    tests: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case: what differed, if anything."""

    file: str
    line: int
    name: str
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """No difference found."""
        return not self.failures


def find_case_files(paths: Iterable[Path]) -> list[Path]:
    """Every `*.test.yaml` under the paths."""
    return find_files(paths, lambda name: name.endswith(TEST_SUFFIXES))


def load_cases(paths: Iterable[Path]) -> list[tuple[Path, int, Case]]:
    """(file, line, case) for every case; one ConfigError naming every bad file:line."""
    cases: list[tuple[Path, int, Case]] = []
    errors: list[str] = []
    for path in find_case_files(paths):
        for doc in load_yaml_documents(path):
            try:
                parsed = CaseFile.model_validate(doc.data)
            except ValidationError as exc:
                errors.extend(describe_problem(p, doc) for p in exc.errors(include_url=False))
                continue
            cases.extend((path, doc.line_of(("tests", i)), c) for i, c in enumerate(parsed.tests))
    if errors:
        raise ConfigError("\n".join(errors))
    return cases


def _body(path: Path, case: Case) -> dict[str, JsonValue]:
    if case.event is not None:
        return case.event
    assert case.event_file is not None  # noqa: S101 - the model requires one of the two
    source = path.parent / case.event_file
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: event_file {case.event_file}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: event_file {case.event_file}: not a JSON object")
    return data


def _container(event: Event, live: LiveContainer | None) -> ContainerInfo | None:
    """The container the run would find for the event, by the run's own rule (`answers_to`)."""
    target = event.target
    if target is None:  # as plan: host events have none
        return None
    ref, kind = reference(target)
    if live is None:
        # Offline: a reference that can name a container is taken to name one, with no
        # labels and no image.
        if not is_container_ref(ref) or (kind == "id" and not is_id_prefix(ref)):
            return None
        return ContainerInfo(ref if kind == "id" else _MADE_UP_ID, target.name or ref, "")
    default_id = ref if kind == "id" and is_id_prefix(ref) else _MADE_UP_ID
    container = ContainerInfo(
        live.id or default_id, live.name, live.image, live.labels, live.status
    )
    return container if answers_to(target, container) else None


def _actual(
    body: dict[str, JsonValue],
    case: Case,
    *,
    playbooks: PlaybookSet,
    actions: ActionRegistry,
    templates: Templates,
    rules: TargetRules,
    protection: Protection | None,
) -> dict[str, dict[str, list[str]]]:
    actual: dict[str, dict[str, list[str]]] = {}
    for event in events_from_body(body, datetime.now(UTC), rules):
        container = _container(event, case.container)
        plan = plan_event(
            event,
            playbooks=playbooks,
            actions=actions,
            templates=templates,
            container=container,
            container_note="test",
            protection=protection,
        )
        for matched in plan.plans:
            entry = actual.setdefault(
                matched.playbook.name,
                {"steps": [], "skipped": [], "failed": [], "errors": [], "state": []},
            )
            if matched.gate.state and matched.gate.state not in entry["state"]:
                entry["state"].append(matched.gate.state)
            for step in matched.steps:
                if step.error:
                    entry["errors"].append(f"{step.action}: {step.error}")
                elif step.fails:
                    entry["failed"].append(step.action)
                else:
                    entry["skipped" if step.skipped else "steps"].append(step.action)
    return actual


def run_case(
    path: Path,
    line: int,
    case: Case,
    *,
    playbooks: PlaybookSet,
    actions: ActionRegistry,
    templates: Templates,
    rules: TargetRules,
    protection: Protection | None = None,
) -> CaseResult:
    """Plan the case's event and compare with what it expects."""
    try:
        actual = _actual(
            _body(path, case),
            case,
            playbooks=playbooks,
            actions=actions,
            templates=templates,
            rules=rules,
            protection=protection,
        )
    except InputError as exc:
        return CaseResult(
            str(path), line, case.name, (f"the event is not accepted: {exc.message}",)
        )
    return CaseResult(str(path), line, case.name, tuple(_differences(case, actual)))


def _differences(case: Case, actual: dict[str, dict[str, list[str]]]) -> list[str]:
    """What the plan did not do as the case expects: playbooks, steps, skips, fails, states."""
    failures: list[str] = []
    expected_names = [e.playbook for e in case.expect]
    if expected_names != list(actual):
        failures.append(f"playbooks: expected {expected_names}, got {list(actual)}")
    for expected in case.expect:
        got = actual.get(expected.playbook)
        if got is None:
            continue
        failures.extend(f"{expected.playbook} step error: {e}" for e in got["errors"])
        for kind in ("steps", "skipped", "failed"):
            want: list[str] | None = getattr(expected, kind)
            if want is not None and want != got[kind]:
                failures.append(f"{expected.playbook} {kind}: expected {want}, got {got[kind]}")
        state = ", ".join(got["state"]) or "none"
        if expected.state is not None and expected.state != state:
            failures.append(f"{expected.playbook} state: expected {expected.state}, got {state}")
    return failures


def describe_result(result: CaseResult) -> dict[str, Any]:
    """For `test --json`."""
    return {
        "file": result.file,
        "line": result.line,
        "name": result.name,
        "failures": list(result.failures),
    }
