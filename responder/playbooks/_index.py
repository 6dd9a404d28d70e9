"""The playbooks an event could match, found by its Falco rule or alertname instead of a scan.

A playbook whose `match` lists exact rule names (no glob) can only match a Falco event with one
of those names: it is filed under each `("falco", rule)`. The same holds for exact alertnames
and Alertmanager events. Every other enabled playbook (no rules nor alertnames, or a glob among
them) is always checked. Disabled playbooks never match and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from responder.playbooks._model import Match, Playbook

__all__ = ["MatchIndex"]

_GLOB = frozenset("*?[")

Key = tuple[str, str]


def _keys(match: Match) -> list[Key] | None:
    """The (source, name) pairs a playbook is filed under, or None: it cannot be indexed.

    `rules` already confine a playbook to Falco events and `alertnames` to Alertmanager ones,
    so exact names are enough; the other conditions are checked on the candidates.
    """
    if match.rules is not None and not any(_GLOB & set(rule) for rule in match.rules):
        return [("falco", rule) for rule in match.rules]
    if match.alertnames is not None and not any(_GLOB & set(name) for name in match.alertnames):
        return [("alertmanager", name) for name in match.alertnames]
    return None


@dataclass(frozen=True)
class MatchIndex:
    """For each (source, name): the positions of its candidate playbooks, in trying order."""

    by_key: dict[Key, tuple[int, ...]]
    always: tuple[int, ...]
    """Candidates for every event: the enabled playbooks that cannot be indexed."""

    @classmethod
    def build(cls, playbooks: Sequence[Playbook]) -> MatchIndex:
        """File every enabled playbook; each key's list merges in the always-checked ones."""
        filed: dict[Key, set[int]] = {}
        always: list[int] = []
        for position, playbook in enumerate(playbooks):
            if not playbook.enabled:
                continue
            keys = _keys(playbook.match)
            if keys is None:
                always.append(position)
            for key in keys or ():
                filed.setdefault(key, set()).add(position)
        by_key = {key: tuple(sorted({*found, *always})) for key, found in filed.items()}
        return cls(by_key, tuple(always))

    def candidates(self, source: str, name: str) -> tuple[int, ...]:
        """The positions of the playbooks an event with this source and name could match."""
        return self.by_key.get((source, name), self.always)
