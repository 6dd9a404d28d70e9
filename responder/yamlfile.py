"""YAML files the user writes, loaded safely with the line of every key, for errors that say where."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from responder.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from pydantic import ValidationError
    from pydantic_core import ErrorDetails

__all__ = [
    "Located",
    "describe_problem",
    "find_files",
    "format_validation_error",
    "load_yaml_documents",
]

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Located:
    """One YAML document and the 1-based line of every key and list item in it."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Iterable[str | int]) -> int:
        """The line of the deepest part of `path` that the file has (the document start if none)."""
        parts = tuple(path)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.lines.get((), 1)


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader (no Python objects from tags) with YAML 1.2 booleans.

    YAML 1.1 reads `yes`, `no`, `on` and `off` as booleans, so `environment: on` or a playbook
    named `off` would silently change meaning; here only true/false are booleans.
    """


_BOOL_TAG = "tag:yaml.org,2002:bool"
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _walk(item, (*path, index), lines)


def find_files(paths: Iterable[Path], keep: Callable[[str], bool]) -> list[Path]:
    """Files under the directories whose name `keep` accepts, in name order.

    Files named directly are taken as given; a path that does not exist is a ConfigError.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and keep(p.name)))
        elif path.exists():
            found.append(path)
        else:
            raise ConfigError(f"{path}: no such file or directory")
    return found


def load_yaml_documents(path: Path) -> list[Located]:
    """Every document in the file, or a ConfigError that names the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        loader = _LineLoader(text)
        try:
            documents = []
            while loader.check_node():
                node = loader.get_node()
                if node is None:  # pragma: no cover - check_node said there is one
                    continue
                lines: dict[Path_, int] = {}
                _walk(node, (), lines)
                documents.append(Located(str(path), loader.construct_document(node), lines))
            return documents
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc


def describe_problem(problem: ErrorDetails, doc: Located, prefix: Path_ = ()) -> str:
    """`file:line: field: message` for one problem pydantic found in the document."""
    loc = tuple(part for part in problem["loc"] if isinstance(part, str | int))
    full = (*prefix, *loc)
    dotted = ".".join(str(part) for part in full) or "(document)"
    message = problem["msg"]
    if problem["type"] == "extra_forbidden":
        message = "unknown field (check its spelling)"
    return f"{doc.file}:{doc.line_of(full)}: {dotted}: {message}"


def format_validation_error(error: ValidationError, doc: Located, prefix: Path_ = ()) -> list[str]:
    """One line per problem, each naming the file, the line and the field."""
    return [describe_problem(problem, doc, prefix) for problem in error.errors(include_url=False)]
