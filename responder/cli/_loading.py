"""Loading what offline commands (`plan`, `test`) need: settings, actions, playbooks, a body."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from responder.actions import ActionRegistry, default_actions
from responder.cli._common import settings_from
from responder.errors import ConfigError
from responder.playbooks import PlaybookSet, load_playbooks
from responder.text import Templates

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

    from pydantic import JsonValue

    from responder.settings import Settings

__all__ = ["Loaded", "load_everything", "read_body"]


@dataclass(frozen=True)
class Loaded:
    """Settings, the action registry, the playbooks and a template sandbox."""

    settings: Settings
    actions: ActionRegistry
    playbooks: PlaybookSet
    templates: Templates


def load_everything(args: argparse.Namespace, paths: list[Path] | None = None) -> Loaded:
    """Everything validated as `serve` would; ConfigError names file:line."""
    settings = settings_from(args)
    actions = ActionRegistry(default_actions())
    chosen = paths or [settings.playbooks]
    playbooks = load_playbooks(chosen, actions, channels=settings.channel_names())
    return Loaded(settings, actions, playbooks, Templates())


def read_body(path: Path) -> dict[str, JsonValue]:
    """A recorded sender body."""
    try:
        body = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read a JSON body: {exc}") from exc
    if not isinstance(body, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(body).__name__}")
    return body
