"""Running an incident: safety gates, then its steps in order, one container at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING

from responder import __version__
from responder.actions import ActionContext
from responder.engine import is_full_id, own_container_id
from responder.errors import ResponderError
from responder.incidents import StepRecord, now
from responder.playbooks import template_context
from responder.worker.gates import SafetyGates, final_state
from responder.worker.lookups import ContainerLookups, Lookup, live_container
from responder.worker.notify import notify_sink
from responder.worker.steps import IncidentRun, evidence_dir, run_step

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from responder.actions import ActionRegistry
    from responder.engine import ContainerInfo, DockerEngine
    from responder.incidents import IncidentRecord, Incidents
    from responder.journal import Event, Journal
    from responder.playbooks import LoadedPlaybook, PlaybookSet
    from responder.settings import Settings
    from responder.text import Templates
    from responder.worker.followup import FollowUp

__all__ = ["IncidentRunner"]

log = logging.getLogger(__name__)


class IncidentRunner:
    """Runs incidents: at most `limits.concurrency` at once, never two on one container."""

    def __init__(
        self,
        *,
        settings: Settings,
        journal: Journal,
        incidents: Incidents,
        engine: DockerEngine,
        actions: ActionRegistry,
        playbooks: PlaybookSet,
        templates: Templates,
        followup: FollowUp,
    ) -> None:
        self._settings = settings
        self._journal = journal
        self._incidents = incidents
        self._engine = engine
        self._actions = actions
        self._playbooks = playbooks
        self._templates = templates
        self._notifications = followup.notifications
        self._audit = followup.audit
        self._write_report = followup.write_report
        self._gates = SafetyGates(settings, incidents, actions, own_container_id())
        self._slots = asyncio.Semaphore(settings.limits.concurrency)
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._versions: dict[str, str] = {"responder": __version__}
        self.lookups = ContainerLookups(engine)
        """The dispatch's container lookups: an incident it just opened starts from its find."""

    @contextlib.asynccontextmanager
    async def container_lock(self, incident_id: str) -> AsyncIterator[None]:
        """Hold the lock of the incident's container: release never interleaves with steps."""
        record = await self._incidents.run(lambda store: store.get(incident_id))
        key = _lock_key(record) if record else None
        if key is None:
            yield
            return
        async with self._locks[key]:
            yield

    async def run(self, incident_id: str) -> None:
        """Run (or resume) one incident; faults are logged, never raised."""
        try:
            await self._run_incident(incident_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "incident %s stopped on an unexpected error; it resumes at restart", incident_id
            )

    async def _run_incident(self, incident_id: str) -> None:
        record = await self._incidents.run(lambda store: store.get(incident_id))
        if record is None:
            return
        loaded = self._playbooks.by_name(record.playbook)
        event = await self._journal.event(record.first_event)
        if loaded is None or event is None:
            why = (
                f"playbook {record.playbook} is no longer loaded"
                if loaded is None
                else "event missing"
            )
            await self._incidents.run(lambda store: store.finish(incident_id, "failed", why))
            return
        found = (
            await live_container(self._engine, record, event, self._settings.limits, self.lookups)
            if record.target
            else Lookup(None)
        )
        container = found.container
        lock = self._locks[
            container.id if container else (_lock_key(record) or f"host:{incident_id}")
        ]
        async with self._slots, lock:
            run = await self._start(record, loaded, event, container, unreachable=found.fault)
            records: list[StepRecord] = []
            for index in range(len(loaded.playbook.steps)):
                records.append(await self._step(run, index, records))
            await self._finish(run, records)
        # Outside the slot and the lock: the next incident need not wait for this one's report.
        # The writer reads and writes each incident's report under its own lock, so a release
        # made meanwhile is in the last report written.
        await self._write_report(incident_id)

    async def _start(
        self,
        record: IncidentRecord,
        loaded: LoadedPlaybook,
        event: Event,
        container: ContainerInfo | None,
        *,
        unreachable: str | None,
    ) -> IncidentRun:
        """The incident's gate (audited when it holds containment back) and what its steps share."""
        dry_run = self._settings.incidents.dry_run or loaded.playbook.dry_run
        steps = loaded.playbook.steps
        first = (
            StepRecord(index=0, action=steps[0].action, started_at=now())
            if steps and not record.steps
            else None
        )
        gate = await self._gates.decide(
            record, loaded, event, container, dry_run=dry_run, unreachable=unreachable, first=first
        )
        if gate.state in ("protected", "held"):
            self._audit.record(f"incident.{gate.state}", incident=record.id, reason=gate.reason)
        ctx = ActionContext(
            engine=self._engine,
            incident_id=record.id,
            evidence_dir=self._settings.data_dir / "evidence" / record.id,
            dry_run=dry_run,
            versions=await self._engine_versions(),
        )
        context = template_context(event, container, loaded, record.id)
        return IncidentRun(
            record, loaded, event, container, unreachable, gate, dry_run, context, ctx
        )

    async def _step(self, run: IncidentRun, index: int, done: Sequence[StepRecord]) -> StepRecord:
        """Step `index` after the steps `done`: run now, or as it finished before a restart."""
        earlier = run.recorded.get(index)
        if earlier is not None and earlier.status != "pending":
            return earlier
        # "pending" was saved just before a run that a crash cut short: it may have made its
        # change already, which the action then reports as "already".
        resumed = earlier is not None
        step = run.loaded.playbook.steps[index]
        action = self._actions.get(step.action)
        assert action is not None  # noqa: S101 - the loader checked every action
        plan = run.step_plan(index, action, done)
        incident = run.record.id
        await self._started(run, index, step.action, resumed=resumed)
        result = await run_step(
            plan,
            self._action_ctx(run, index, done),
            self._templates,
            self._settings.limits,
            resumed=resumed,
        )
        await self._save(incident, result)
        self._audit.record(
            "step.finished",
            incident=incident,
            index=index,
            action=step.action,
            status=result.status,
            detail=result.detail,
            error=result.error,
            attempts=result.attempts,
            duration_ms=result.duration_ms,
        )
        return result

    async def _started(self, run: IncidentRun, index: int, action: str, *, resumed: bool) -> None:
        """Step `index` saved as started (durable before it runs), then audited."""
        started = run.gate.started
        if started is None or started.index != index:
            # The first step of a containment was saved as started with its claim.
            await self._save(
                run.record.id, StepRecord(index=index, action=action, started_at=now())
            )
        self._audit.record(
            "step.started", incident=run.record.id, index=index, action=action, resumed=resumed
        )

    def _action_ctx(
        self, run: IncidentRun, index: int, done: Sequence[StepRecord]
    ) -> ActionContext:
        """Step `index`'s own: its evidence directory, and what a notify step there queues."""
        sink = notify_sink(
            run,
            done,
            actions=self._actions,
            notifications=self._notifications,
            settings=self._settings,
        )
        here = evidence_dir(run.action_ctx.evidence_dir, run.loaded.playbook.steps, index)
        return replace(run.action_ctx, notify=sink, evidence_dir=here)

    async def _finish(self, run: IncidentRun, records: Sequence[StepRecord]) -> None:
        """The incident's state from its steps, stored and audited (its report follows)."""
        incident, reason = run.record.id, run.gate.reason
        state = final_state(records, self._actions, run.gate, dry_run=run.dry_run)
        # A fault that may go away (the engine did not answer, a step outlasted its retries)
        # lets a repeat of the alert try again; a container that is gone does not.
        retry = run.unreachable is not None or any(
            r.status == "failed" and r.transient for r in records
        )
        await self._incidents.run(
            lambda store: store.finish(incident, state, reason, retry_on_repeat=retry)
        )
        self._audit.record(
            "incident.finished",
            incident=incident,
            state=state,
            reason=reason,
            retry_on_repeat=retry,
        )
        log.info("incident %s: %s", incident, state)

    async def _save(self, incident_id: str, step: StepRecord) -> None:
        """Durable before the next step starts: a restart resumes after it."""
        await self._incidents.run(lambda store: store.save_step(incident_id, step))

    async def _engine_versions(self) -> dict[str, str]:
        if "docker" not in self._versions:
            with contextlib.suppress(ResponderError):
                version = await self._engine.version()
                self._versions["docker"] = str(version.get("Version", "unknown"))
        return dict(self._versions)


def _lock_key(record: IncidentRecord) -> str | None:
    """The container an incident's steps lock: its full id once known, else the alert's reference."""
    if record.container_id and is_full_id(record.container_id):
        return record.container_id
    return record.target
