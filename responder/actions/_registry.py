"""The registry of actions, built explicitly at start-up; no import-time registration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from responder.actions.isolate import Isolate
from responder.actions.lifecycle import Kill, Pause, Stop
from responder.actions.notify import Notify
from responder.actions.snapshot import Snapshot

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from responder.actions._base import Action

__all__ = ["ActionRegistry", "default_actions"]


def default_actions() -> list[Action]:
    """Every action the responder ships, in the order `responder actions` lists them."""
    return [Snapshot(), Isolate(), Pause(), Stop(), Kill(), Notify()]


class ActionRegistry:
    """Actions by name."""

    def __init__(self, actions: Iterable[Action]) -> None:
        self._actions: dict[str, Action] = {}
        for action in actions:
            if action.name in self._actions:
                raise ValueError(f"two actions are named {action.name!r}")
            self._actions[action.name] = action

    def get(self, name: str) -> Action | None:
        """The action with this name, or None."""
        return self._actions.get(name)

    def names(self) -> list[str]:
        """Every registered name."""
        return list(self._actions)

    def __iter__(self) -> Iterator[Action]:
        return iter(self._actions.values())
