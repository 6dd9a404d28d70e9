"""Builders for playbook tests: events made directly, playbooks loaded from YAML in a temp dir."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from responder.actions import ActionRegistry, default_actions
from responder.errors import ConfigError
from responder.journal import Event, Priority, new_event_id
from responder.playbooks import Step, load_playbooks
from responder.worker.gates import Gate, decide_step
from responder.worker.steps import StepPlan

if TYPE_CHECKING:
    from pathlib import Path

    from responder.actions import Action
    from responder.engine import ContainerInfo
    from responder.playbooks import PlaybookSet

EVENT_TIME = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)


def make_event(**changes: Any) -> Event:
    """A firing Falco `Terminal shell in container` event at Notice, with fields changed by keyword."""
    values: dict[str, Any] = {
        "id": new_event_id(),
        "key": "test-key",
        "source": "falco",
        "name": "Terminal shell in container",
        "priority": Priority.NOTICE,
        "status": "firing",
        "time": EVENT_TIME,
        "received_at": EVENT_TIME,
        "hostname": "node-1",
        "tags": ("container", "shell", "mitre_execution"),
        "output": "A shell was spawned in a container",
    }
    values.update(changes)
    return Event(**values)


def step_plan(
    action: Action,
    *,
    container: ContainerInfo | None = None,
    gate: Gate = Gate(None),  # noqa: B008 - frozen: the open gate
    timeout: timedelta | None = None,
) -> StepPlan:
    """A plan for one step of `action`, first in its playbook, with an empty template context."""
    step = Step.model_validate({"action": action.name, "timeout": timeout})
    decision = decide_step(gate, action, ())
    return StepPlan(0, step, action, {}, container, make_event(), decision)


def make_alert(**changes: Any) -> Event:
    """A firing Alertmanager `HighCPU` alert at Warning, with fields changed by keyword."""
    values: dict[str, Any] = {
        "source": "alertmanager",
        "name": "HighCPU",
        "priority": Priority.WARNING,
        "tags": (),
        "labels": {"alertname": "HighCPU", "severity": "warning", "container": "web"},
        "annotations": {"summary": "CPU above 90% for 5m"},
        "output": "CPU above 90% for 5m",
    }
    values.update(changes)
    return make_event(**values)


def registry() -> ActionRegistry:
    """Every action the responder ships."""
    return ActionRegistry(default_actions())


def write_yaml(directory: Path, name: str, text: str) -> Path:
    """Write dedented YAML text to `directory/name` and return the file's path."""
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_dir(directory: Path, channels: set[str] | None = None) -> PlaybookSet:
    """Load every playbook under `directory` with the shipped actions."""
    return load_playbooks([directory], registry(), channels=channels)


def load_text(directory: Path, text: str, name: str = "playbooks.yaml") -> PlaybookSet:
    """Write one playbook file into `directory` and load the directory."""
    write_yaml(directory, name, text)
    return load_dir(directory)


def load_error(paths: list[Path], channels: set[str] | None = None) -> str:
    """The message of the ConfigError that loading `paths` raises."""
    with pytest.raises(ConfigError) as caught:
        load_playbooks(paths, registry(), channels=channels)
    return str(caught.value)
