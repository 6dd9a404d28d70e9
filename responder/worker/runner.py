"""Running an incident: safety gates, then its steps in order, one container at a time."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from responder import __version__
from responder.actions import ActionContext
from responder.engine import is_full_id, own_container_id
from responder.errors import ResponderError
from responder.incidents import StepRecord, now
from responder.playbooks import template_context
from responder.worker.gates import SafetyGates, final_state
from responder.worker.notify import NotifyScope, notify_sink
from responder.worker.steps import Gate, StepPlan, evidence_dir, retry_policy, run_step

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

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

    async def _resolve(self, record: IncidentRecord, event: Event) -> ContainerInfo | str | None:
        """The live container; None when it is gone; the fault when the engine does not answer.

        The container found at dispatch is inspected by its full id, which nothing else can
        answer to; an incident opened without one resolves the alert's reference by the one
        rule (`answers_to`). An engine that does not answer is a transient fault, retried like
        a step, never mistaken for a missing container.
        """
        full_id = record.container_id if is_full_id(record.container_id or "") else None
        target = event.target if full_id is None else None
        if full_id is None and target is None:
            return None
        retrying = retry_policy(self._settings.limits)
        try:
            async for attempt in retrying:
                with attempt:
                    if full_id is not None:
                        return await self._engine.container(full_id)
                    assert target is not None  # noqa: S101 - checked above
                    return await self._engine.resolve(target)
        except ResponderError as exc:
            return f"the Docker engine does not answer: {exc}"
        return None  # pragma: no cover - tenacity returns or reraises

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
        found = await self._resolve(record, event) if record.target else None
        container = found if not isinstance(found, str) else None
        lock = self._locks[
            container.id if container else (_lock_key(record) or f"host:{incident_id}")
        ]
        async with self._slots, lock:
            await self._steps(
                record,
                loaded,
                event,
                container,
                unreachable=found if isinstance(found, str) else None,
            )

    async def _steps(
        self,
        record: IncidentRecord,
        loaded: LoadedPlaybook,
        event: Event,
        container: ContainerInfo | None,
        *,
        unreachable: str | None,
    ) -> None:
        dry_run = self._settings.incidents.dry_run or loaded.playbook.dry_run
        gate = await self._gates.decide(
            record, loaded, event, container, dry_run=dry_run, unreachable=unreachable
        )
        if gate.state in ("protected", "held"):
            self._audit.record(f"incident.{gate.state}", incident=record.id, reason=gate.reason)
        context = template_context(event, container, loaded, record.id)
        ctx = ActionContext(
            engine=self._engine,
            incident_id=record.id,
            evidence_dir=self._settings.data_dir / "evidence" / record.id,
            dry_run=dry_run,
            versions=await self._engine_versions(),
        )
        recorded = {step.index: step for step in record.steps}
        records: list[StepRecord] = []
        # After a failed step, container steps are not run, but notify steps still are: the
        # people on call most need to hear about the containment that did not happen.
        step_gate = gate
        for index, step in enumerate(loaded.playbook.steps):
            result = recorded.get(index)
            if result is None or result.status == "pending":
                # "pending" was saved just before a run that a crash cut short: it may have
                # made its change already, which the action then reports as "already".
                resumed = result is not None
                action = self._actions.get(step.action)
                assert action is not None  # noqa: S101 - the loader checked every action
                plan = StepPlan(index, step, action, context, container, event, step_gate)
                await self._save(
                    record.id, StepRecord(index=index, action=step.action, started_at=now())
                )
                self._audit.record(
                    "step.started",
                    incident=record.id,
                    index=index,
                    action=step.action,
                    resumed=resumed,
                )
                sink = notify_sink(
                    NotifyScope(record, loaded, context, gate, dry_run=dry_run),
                    records,
                    actions=self._actions,
                    notifications=self._notifications,
                    settings=self._settings,
                )
                here = evidence_dir(ctx.evidence_dir, loaded.playbook.steps, index)
                result = await run_step(
                    plan,
                    dataclasses.replace(ctx, notify=sink, evidence_dir=here),
                    self._templates,
                    self._settings.limits,
                    resumed=resumed,
                )
                await self._save(record.id, result)
                self._audit.record(
                    "step.finished",
                    incident=record.id,
                    index=index,
                    action=step.action,
                    status=result.status,
                    detail=result.detail,
                    error=result.error,
                    attempts=result.attempts,
                    duration_ms=result.duration_ms,
                )
            records.append(result)
            if result.status == "failed" and not step.continue_on_error and step_gate is gate:
                step_gate = Gate(f"not run: step {index + 1} ({step.action}) failed")
        state = final_state(records, self._actions, gate, dry_run=dry_run)
        # A fault that may go away (the engine did not answer, a step outlasted its retries)
        # lets a repeat of the alert try again; a container that is gone does not.
        retry = unreachable is not None or any(
            r.status == "failed" and r.transient for r in records
        )
        await self._incidents.run(
            lambda store: store.finish(record.id, state, gate.reason, retry_on_repeat=retry)
        )
        self._audit.record(
            "incident.finished",
            incident=record.id,
            state=state,
            reason=gate.reason,
            retry_on_repeat=retry,
        )
        log.info("incident %s: %s", record.id, state)
        await self._write_report(record.id)

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
