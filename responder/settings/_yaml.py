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
    "MAX_DEPTH",
    "MAX_NODES",
    "Located",
    "describe_problem",
    "dotted_path",
    "find_files",
    "format_validation_error",
    "load_yaml_documents",
]

Path_ = tuple[str | int, ...]

MAX_DEPTH = 64
"""Nesting any file may have; a playbook or configuration needs less than ten."""
MAX_NODES = 100_000
"""Values a document may hold once aliases are expanded; the shipped playbooks hold hundreds."""


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
    """A SafeLoader (no Python objects from tags) with YAML 1.2 booleans and bounded nesting.

    YAML 1.1 reads `yes`, `no`, `on` and `off` as booleans, so `environment: on` or a playbook
    named `off` would silently change meaning; here only true/false are booleans.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:  # noqa: ANN401 - PyYAML's own signature
        """One level deeper; PyYAML composes recursively, so a bound here beats a RecursionError."""
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:  # noqa: ANN401 - any YAML value
        """A value PyYAML cannot hold (`2024-13-45`, 5000 digits, `!!float ''`) as an error at its line."""
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        # A bad scalar makes PyYAML raise ValueError, IndexError, KeyError, AttributeError...
        except Exception as exc:
            shown = str(node.value)[:40] if isinstance(node, yaml.ScalarNode) else node.tag
            reason = str(exc).split("; use sys.")[0]  # Python's advice is for programmers
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {shown!r} as {node.tag}: {reason}", node.start_mark
            ) from exc


_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_BOOL_TAG = "tag:yaml.org,2002:bool"
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _walk(root: yaml.Node, lines: dict[Path_, int]) -> None:
    """Record the line of every key and item, the tree as aliases expand it, within the limits.

    Aliases make a small file a huge (`billion laughs`) or endless (`&a [*a]`) tree, and
    everything after the loader walks the tree: refuse one past the limits here, first.
    """
    stack: list[tuple[yaml.Node, Path_]] = [(root, ())]
    count = 0
    while stack:
        node, path = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise _limit(node, f"more than {MAX_NODES} values once aliases are expanded")
        if len(path) > MAX_DEPTH:
            raise _limit(node, f"nested deeper than {MAX_DEPTH} levels (or an alias holds itself)")
        lines.setdefault(path, node.start_mark.line + 1)
        children: list[tuple[yaml.Node, Path_]] = []
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = (
                    key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
                )
                lines[(*path, key)] = key_node.start_mark.line + 1
                children.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*path, index)] = item.start_mark.line + 1
                children.append((item, (*path, index)))
        stack.extend(reversed(children))  # depth first, in file order, as the lines were kept


def _limit(node: yaml.Node, problem: str) -> yaml.MarkedYAMLError:
    return yaml.composer.ComposerError(None, None, problem, node.start_mark)


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
    text = _read_text(path)
    try:
        loader = _LineLoader(text)
        try:
            documents = []
            while loader.check_node():
                node = loader.get_node()
                if node is None:  # pragma: no cover - check_node said there is one
                    continue
                lines: dict[Path_, int] = {}
                _walk(node, lines)
                documents.append(Located(str(path), loader.construct_document(node), lines))
            return documents
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:
        line = _line_at(text, exc.position)
        raise ConfigError(f"{path}:{line}: invalid YAML: {_reader_problem(exc)}") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = " ".join(str(exc.problem or exc.context or "unreadable").split())
        raise ConfigError(f"{path}:{line}: invalid YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())
        raise ConfigError(f"{path}:1: invalid YAML: {problem}") from exc


def _read_text(path: Path) -> str:
    """The file as text; bytes that are not UTF-8 are a ConfigError at their line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.end].hex(" ")
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text: byte {bad} at column {column} ({exc.reason})"
        ) from exc


def _line_at(text: str, position: int) -> int:
    """The 1-based line of a character, counting line breaks as YAML does."""
    return len(_BREAKS.findall(text, 0, max(position, 0))) + 1


def _reader_problem(exc: yaml.reader.ReaderError) -> str:
    """The character PyYAML refused, as a code point (the character itself may be a control)."""
    character = exc.character
    code = ord(character) if isinstance(character, str) else int(character)
    return f"character U+{code:04X} is not allowed in YAML; write it as an escape in quotes"


def describe_problem(problem: ErrorDetails, doc: Located, prefix: Path_ = ()) -> str:
    """`file:line: field: message` for one problem pydantic found in the document."""
    loc = tuple(part for part in problem["loc"] if isinstance(part, str | int))
    full = (*prefix, *loc)
    dotted = dotted_path(full) or "(document)"
    message = problem["msg"]
    if problem["type"] == "extra_forbidden":
        message = "unknown field (check its spelling)"
    return f"{doc.file}:{doc.line_of(full)}: {dotted}: {message}"


def dotted_path(path: Iterable[str | int]) -> str:
    """`match.fields.container.id`; a key with controls, line breaks or edge spaces is quoted."""
    return ".".join(_shown_key(part) for part in path)


def _shown_key(part: str | int) -> str:
    if isinstance(part, int) or (part and part.isprintable() and part.strip() == part):
        return str(part)
    return repr(part)


def format_validation_error(error: ValidationError, doc: Located, prefix: Path_ = ()) -> list[str]:
    """One line per problem, each naming the file, the line and the field."""
    return [describe_problem(problem, doc, prefix) for problem in error.errors(include_url=False)]
