"""Playbook files: found in the playbook directory and read as YAML at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from responder.errors import ConfigError
from responder.yamlfile import Located, load_yaml_documents

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["PlaybookSet", "load_playbooks"]

_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class PlaybookSet:
    """The playbook documents loaded from one directory."""

    directory: Path
    documents: tuple[Located, ...]

    @property
    def files(self) -> tuple[str, ...]:
        """The files the documents came from, each once."""
        return tuple(dict.fromkeys(doc.file for doc in self.documents))


def load_playbooks(directory: Path) -> PlaybookSet:
    """Read every `*.yaml`/`*.yml` file; a missing directory is an empty set, a bad file an error."""
    if not directory.exists():
        return PlaybookSet(directory, ())
    if not directory.is_dir():
        raise ConfigError(f"{directory}: the playbook path is not a directory")
    documents: list[Located] = []
    errors: list[str] = []
    for path in sorted(p for p in directory.rglob("*") if p.suffix in _SUFFIXES and p.is_file()):
        try:
            documents.extend(d for d in load_yaml_documents(path) if d.data is not None)
        except ConfigError as exc:
            errors.append(str(exc))
    if errors:
        raise ConfigError("\n".join(errors))
    return PlaybookSet(directory, tuple(documents))
