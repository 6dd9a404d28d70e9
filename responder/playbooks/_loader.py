"""Loading playbooks: YAML to typed models, with every error naming its file, line and field."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from responder.errors import ConfigError
from responder.playbooks._index import MatchIndex
from responder.playbooks._model import Playbook
from responder.settings import (
    Located,
    describe_problem,
    dotted_path,
    find_files,
    load_yaml_documents,
)
from responder.text import Templates, is_template

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from responder.actions import Action, ActionParams, ActionRegistry

__all__ = ["TEST_SUFFIXES", "LoadedPlaybook", "PlaybookSet", "load_playbooks", "playbook_files"]

_SUFFIXES = (".yaml", ".yml")
TEST_SUFFIXES = (".test.yaml", ".test.yml")
"""Playbook unit test files (`responder test`); the loader leaves them out."""

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedPlaybook:
    """A validated playbook, where it came from, and its steps' parameters as checked at load."""

    playbook: Playbook
    file: str
    line: int
    digest: str
    """sha256 of the playbook's canonical JSON: its version, for reports."""
    params: tuple[ActionParams, ...]
    source: str = ""
    """The playbook's canonical JSON (sorted keys), which `digest` hashes; kept with incidents."""

    @property
    def name(self) -> str:
        """The playbook's name."""
        return self.playbook.name

    @property
    def where(self) -> str:
        """`file:line`."""
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class PlaybookSet:
    """Every enabled and disabled playbook, in the order they are tried."""

    directory: Path | None = None
    playbooks: tuple[LoadedPlaybook, ...] = ()
    files: tuple[str, ...] = field(default=())

    def by_name(self, name: str) -> LoadedPlaybook | None:
        """The playbook with this name, or None."""
        return next((p for p in self.playbooks if p.name == name), None)

    @functools.cached_property
    def index(self) -> MatchIndex:
        """The playbooks by Falco rule and alertname (`match_candidates`), built once."""
        return MatchIndex.build([loaded.playbook for loaded in self.playbooks])

    def candidates(self, source: str, name: str) -> list[LoadedPlaybook]:
        """The playbooks an event with this source and name could match, in trying order."""
        return [self.playbooks[p] for p in self.index.candidates(source, name)]


def _is_playbook_file(name: str) -> bool:
    return name.endswith(_SUFFIXES) and not name.endswith(TEST_SUFFIXES)


def playbook_files(paths: Iterable[Path]) -> list[Path]:
    """YAML files under the paths (directories searched recursively), test files left out."""
    return find_files(paths, _is_playbook_file)


class _Checker:
    """Collects every problem in every file before failing, so one run shows them all."""

    def __init__(self, registry: ActionRegistry, channels: set[str] | None) -> None:
        self.registry = registry
        self.channels = channels
        self.templates = Templates()
        self.errors: list[str] = []

    def error(self, doc: Located, path: PathKey, message: str) -> None:
        dotted = dotted_path(path) or "(playbook)"
        self.errors.append(f"{doc.file}:{doc.line_of(path)}: {dotted}: {message}")

    def playbook(self, doc: Located, data: Any, prefix: PathKey) -> LoadedPlaybook | None:  # noqa: ANN401
        if not isinstance(data, dict):
            self.error(doc, prefix, "a playbook must be a mapping with name, match and steps")
            return None
        try:
            playbook = Playbook.model_validate(data)
        except ValidationError as exc:
            self.errors.extend(
                describe_problem(p, doc, prefix) for p in exc.errors(include_url=False)
            )
            self.raw_steps(doc, data.get("steps"), prefix)
            return None
        params = []
        for index, step in enumerate(playbook.steps):
            checked = self.step(doc, (*prefix, "steps", index), step.action, step.with_)
            if checked is not None:
                params.append(checked)
        if len(params) != len(playbook.steps):
            return None
        canonical = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
        return LoadedPlaybook(
            playbook=playbook,
            file=doc.file,
            line=doc.line_of(prefix),
            digest=hashlib.sha256(canonical.encode()).hexdigest(),
            params=tuple(params),
            source=canonical,
        )

    def raw_steps(self, doc: Located, steps: Any, prefix: PathKey) -> None:  # noqa: ANN401
        """Check actions and parameters even when the playbook around them is invalid."""
        if not isinstance(steps, list):
            return
        for index, step in enumerate(steps):
            if isinstance(step, dict) and isinstance(step.get("action"), str):
                raw = step.get("with", {})
                if isinstance(raw, dict):
                    self.step(doc, (*prefix, "steps", index), step["action"], raw)

    def step(
        self, doc: Located, path: PathKey, name: str, raw: dict[str, Any]
    ) -> ActionParams | None:
        action = self.registry.get(name)
        if action is None:
            known = ", ".join(self.registry.names())
            self.error(doc, (*path, "action"), f"unknown action {name!r}; known: {known}")
            return None
        self.step_templates(doc, (*path, "with"), raw)
        return self.step_params(doc, path, action, raw)

    def step_params(
        self, doc: Located, path: PathKey, action: Action, raw: dict[str, Any]
    ) -> ActionParams | None:
        try:
            params = action.params.model_validate(raw)
        except ValidationError as exc:
            self.errors.extend(
                describe_problem(p, doc, (*path, "with")) for p in exc.errors(include_url=False)
            )
            return None
        channels = getattr(params, "channels", None)
        if self.channels is not None and isinstance(channels, list):
            for index, channel in enumerate(channels):
                if channel not in self.channels:
                    known = ", ".join(sorted(self.channels)) or "none configured"
                    where = (*path, "with", "channels", index)
                    self.error(doc, where, f"unknown channel {channel!r}; configured: {known}")
        return params

    def step_templates(self, doc: Located, path: PathKey, value: Any) -> None:  # noqa: ANN401
        if isinstance(value, str) and is_template(value):
            for problem in self.templates.problems(value):
                self.error(doc, path, problem)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.step_templates(doc, (*path, index), item)
        elif isinstance(value, dict):
            for key, item in value.items():
                self.step_templates(doc, (*path, key), item)


def _documents(doc: Located) -> Iterable[tuple[Any, PathKey]]:
    """A document is one playbook, or a list of them."""
    if isinstance(doc.data, list):
        return ((item, (index,)) for index, item in enumerate(doc.data))
    return [(doc.data, ())]


def load_playbooks(
    paths: Iterable[Path],
    registry: ActionRegistry,
    *,
    channels: set[str] | None = None,
    directory: Path | None = None,
) -> PlaybookSet:
    """Load and check every playbook; raise one ConfigError listing every problem found.

    `channels`, when given, is the set of configured channel names that `notify` may use.
    """
    path_list = list(paths)
    checker = _Checker(registry, channels)
    loaded: list[LoadedPlaybook] = []
    files: list[str] = []
    for path in playbook_files(path_list):
        files.append(str(path))
        try:
            documents = load_yaml_documents(path)
        except ConfigError as exc:
            checker.errors.append(str(exc))
            continue
        for doc in documents:
            if doc.data is None:
                continue
            for data, prefix in _documents(doc):
                if (playbook := checker.playbook(doc, data, prefix)) is not None:
                    loaded.append(playbook)
    seen: dict[str, LoadedPlaybook] = {}
    for playbook in loaded:
        if (first := seen.setdefault(playbook.name, playbook)) is not playbook:
            checker.errors.append(
                f"{playbook.where}: name: {playbook.name!r} is already used at {first.where}"
            )
    if checker.errors:
        raise ConfigError("\n".join(checker.errors))
    # Stable: equal `order` keeps file order, then position in the file.
    ordered = sorted(loaded, key=lambda p: p.playbook.order)
    base = directory or (path_list[0] if path_list else None)
    return PlaybookSet(directory=base, playbooks=tuple(ordered), files=tuple(files))
