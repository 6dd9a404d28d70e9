"""Safety gates: whether a step runs and why not, for the run and for `plan` and `test` alike.

An incident's gate is decided once (`gate_for`, and the containment limit in `SafetyGates`);
each step's decision follows from it and from the steps before it (`decide_step`). Both are
pure: `responder plan` calls the same functions the run does, so it says what the run does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from responder.engine import not_found
from responder.incidents import window_start

if TYPE_CHECKING:
    from collections.abc import Sequence

    from responder.actions import Action, ActionRegistry
    from responder.engine import ContainerInfo
    from responder.incidents import IncidentRecord, Incidents, IncidentState, StepRecord
    from responder.journal import Event
    from responder.playbooks import LoadedPlaybook, Step
    from responder.settings import Protection, Settings

__all__ = [
    "NO_TARGET",
    "RESOLVED",
    "Gate",
    "SafetyGates",
    "StepDecision",
    "decide_step",
    "final_state",
    "gate_for",
    "protected",
]


@dataclass(frozen=True)
class Gate:
    """Why container steps of this incident must not run, decided once per incident."""

    reason: str | None
    """None: go ahead; else why, in words that do not repeat the state (shown beside it)."""
    state: IncidentState | None = None
    """The incident state this implies (protected, held, resolved, failed), if any."""
    started: StepRecord | None = None
    """The first step as started, saved with the containment claim (a run's gate only)."""

    @property
    def detail(self) -> str | None:
        """Why a step it stops did not run: the state, then the reason: `protected (label x)`.

        A `failed` gate's steps say `failed: REASON` themselves.
        """
        if self.reason is None or self.state in (None, "failed"):
            return self.reason
        return f"{self.state} ({self.reason})"


@dataclass(frozen=True)
class StepDecision:
    """Whether one step runs; if not, why, in the words its record and the plan both say."""

    status: Literal["run", "skipped", "failed"]
    """`skipped`: not run, and nothing is wrong; `failed`: not run, and the incident fails."""
    reason: str | None = None
    """Why it does not run (None when it runs): `protected (label responder.protect=true)`."""

    @property
    def runs(self) -> bool:
        """The step is tried."""
        return self.status == "run"

    @property
    def detail(self) -> str:
        """The step record's detail when it does not run: `skipped: REASON`, `failed: REASON`."""
        return f"{self.status}: {self.reason}"


RUN = StepDecision("run")

# Each reason says why, never the state again: it is always shown beside its state, as in
# `incident ID: protected (label responder.protect=true)`, and a step it stops says
# `skipped: protected (label responder.protect=true)`.
RESOLVED = Gate("the alert is no longer firing", "resolved")
"""A resolved alert never starts containment (its notify steps still run)."""
NO_TARGET = Gate("no container to act on: a host event, or none named")


def protected(why: str) -> Gate:
    """The target is protected, for this reason (`label responder.protect=true`)."""
    return Gate(why, "protected")


def decide_step(gate: Gate, action: Action, earlier: Sequence[tuple[Step, bool]]) -> StepDecision:
    """Whether the next step runs: the one decision `plan`, `test` and the run share.

    `earlier`: each step before it, and whether it failed. A step that needs no container
    (notify) always runs: on-call most needs to hear of a containment that did not happen.
    A container step stops at the incident's gate, or, once a step failed without
    `continue_on_error`, at that failure (`not run: step 2 (docker:isolate) failed`).
    """
    stop = gate
    for index, (step, failed) in enumerate(earlier):
        if failed and not step.continue_on_error:
            stop = Gate(f"not run: step {index + 1} ({step.action}) failed")
            break
    if not action.needs_container or stop.reason is None:
        return RUN
    if stop.state == "failed":
        return StepDecision("failed", stop.reason)
    return StepDecision("skipped", stop.detail)


def final_state(
    records: Sequence[StepRecord], actions: ActionRegistry, gate: Gate, *, dry_run: bool
) -> IncidentState:
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
        first: StepRecord | None = None,
    ) -> Gate:
        """The first rule that stops container steps, or `Gate(None)` to go ahead.

        `first`: the first step as it starts, when no step is recorded yet. The containment
        claim saves it in its own transaction, and the gate carries it as `started`.
        """
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
            return await self._claim(record.id, first)
        return Gate(None)

    async def _claim(self, incident_id: str, first: StepRecord | None) -> Gate:
        """The containment limit's word: go ahead (the first step saved as started), or held."""
        limits = self._settings.limits
        since = window_start(limits.window)
        allowed = await self._incidents.run(
            lambda store: store.claim_containment(
                incident_id, since, limits.max_containments, first
            )
        )
        if not allowed:
            return Gate(
                f"containment limit reached, {limits.max_containments} per window: "
                "notified, not contained",
                "held",
            )
        return Gate(None, started=first)


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
