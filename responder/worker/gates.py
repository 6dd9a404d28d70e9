"""Safety gates, decided once per incident: resolved, no target, protected, held by the limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from responder.engine import not_found
from responder.worker.steps import Gate, window_start

if TYPE_CHECKING:
    from responder.actions import ActionRegistry
    from responder.engine import ContainerInfo
    from responder.incidents import IncidentRecord, Incidents, StepRecord
    from responder.journal import Event
    from responder.playbooks import LoadedPlaybook
    from responder.settings import Protection, Settings

__all__ = ["NO_TARGET", "RESOLVED", "SafetyGates", "final_state", "gate_for", "protected"]

# Each reason says why, never the state again: it is always shown beside its state, as in
# `incident ID: protected (label responder.protect=true)`, and a step it stops says
# `skipped: protected (label responder.protect=true)`.
RESOLVED = Gate("the alert is no longer firing", "resolved")
"""A resolved alert never starts containment (its notify steps still run)."""
NO_TARGET = Gate("no container to act on: a host event, or none named")


def protected(why: str) -> Gate:
    """The target is protected, for this reason (`label responder.protect=true`)."""
    return Gate(why, "protected")


def final_state(
    records: list[StepRecord], actions: ActionRegistry, gate: Gate, *, dry_run: bool
) -> str:
    """The incident's state from its steps: explicit about partial containment."""

    def changes(record: StepRecord) -> bool:
        action = actions.get(record.action)
        return bool(action and action.changes_container and record.status in ("done", "already"))

    changed = any(changes(r) for r in records)
    if any(r.status == "failed" for r in records):
        return "partially contained" if changed else "failed"
    if gate.state:
        return gate.state
    if dry_run:
        return "dry-run"
    return "contained" if changed else "notified"


class SafetyGates:
    """Whether an incident's container steps may run, and if not, why."""

    def __init__(
        self,
        settings: Settings,
        incidents: Incidents,
        actions: ActionRegistry,
        self_id: str | None,
    ) -> None:
        self._settings = settings
        self._incidents = incidents
        self._actions = actions
        self._self_id = self_id

    async def decide(
        self,
        record: IncidentRecord,
        loaded: LoadedPlaybook,
        event: Event,
        container: ContainerInfo | None,
        *,
        dry_run: bool,
        unreachable: str | None,
    ) -> Gate:
        """The first rule that stops container steps, or `Gate(None)` to go ahead."""
        gate = gate_for(
            event, container, self._settings.protection, self._self_id, unreachable=unreachable
        )
        if gate.reason is not None:
            return gate
        changes = any(
            (a := self._actions.get(s.action)) and a.changes_container
            for s in loaded.playbook.steps
        )
        if changes and not dry_run:
            limits = self._settings.limits
            since = window_start(limits.window)
            allowed = await self._incidents.run(
                lambda store: store.claim_containment(record.id, since, limits.max_containments)
            )
            if not allowed:
                return Gate(
                    f"containment limit reached, {limits.max_containments} per window: "
                    "notified, not contained",
                    "held",
                )
        return Gate(None)


def gate_for(  # noqa: PLR0911 - one return per safety rule, in order of precedence
    event: Event,
    container: ContainerInfo | None,
    protection: Protection | None,
    self_id: str | None,
    *,
    unreachable: str | None = None,
) -> Gate:
    """The first safety rule that stops container steps; `plan`, `test` and the run share it.

    Resolved alert: skipped. No container named: skipped (notify still runs). The engine did
    not answer, or has no container the alert's reference names: the incident *fails*, and
    on-call hears of it from the notify steps. Protected: skipped, state protected. The
    containment limit, which only a real run can claim, is the caller's.
    """
    if event.status == "resolved":
        return RESOLVED
    if event.target is None:
        return NO_TARGET
    if unreachable is not None:
        return Gate(unreachable, "failed")
    if container is None:
        return Gate(not_found(event.target), "failed")
    if protection is None:
        return Gate(None)
    if protection.protect_self and self_id == container.id:
        return protected("the responder's own container")
    why = protection.reason(name=container.name, image=container.image, labels=container.labels)
    return protected(why) if why else Gate(None)
