"""The worker: follows the journal, opens or joins incidents, and hands them to the runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from responder.events import new_event_id
from responder.incidents import NewIncident, now
from responder.lookups import ContainerLookups
from responder.matching import match_event, needs_container
from responder.steps import window_start

if TYPE_CHECKING:
    from collections.abc import Sequence

    from responder.audit import AuditLog
    from responder.containers import ContainerInfo
    from responder.events import Event
    from responder.incident_runner import IncidentRunner
    from responder.incidents import Incidents
    from responder.journal import Journal
    from responder.matching import Verdict
    from responder.playbooks import LoadedPlaybook, PlaybookSet
    from responder.settings import Settings

__all__ = ["Worker"]

log = logging.getLogger(__name__)
_BATCH = 256
_IDLE_POLL = 1.0


class Worker:
    """Dispatches journaled events to incidents and runs them; see PRODUCT.md, The flow."""

    def __init__(
        self,
        *,
        settings: Settings,
        journal: Journal,
        incidents: Incidents,
        playbooks: PlaybookSet,
        runner: IncidentRunner,
        audit: AuditLog,
    ) -> None:
        self._settings = settings
        self._journal = journal
        self._incidents = incidents
        self._playbooks = playbooks
        self._runner = runner
        self._audit = audit
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._lookups = ContainerLookups(runner.lookup)

    async def start(self) -> None:
        """Resume unfinished incidents, then follow the journal."""
        for incident_id in await self._incidents.run(lambda store: store.running()):
            log.info("resuming incident %s", incident_id)
            self._spawn(incident_id)
        self._loop_task = asyncio.create_task(self._follow(), name="worker")

    async def stop(self) -> None:
        """Stop following; let running incidents finish their current step, then cancel."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._tasks:
            _, pending = await asyncio.wait(
                self._tasks, timeout=self._settings.server.shutdown_timeout
            )
            for task in pending:
                task.cancel()  # resumed at the next start; actions are idempotent
            await asyncio.gather(*pending, return_exceptions=True)

    def container_lock(self, incident_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the lock of the incident's container: release never interleaves with steps."""
        return self._runner.container_lock(incident_id)

    async def idle(self) -> None:
        """Wait until every journaled event is dispatched and every incident has finished (tests)."""
        while True:
            cursor = await self._incidents.run(lambda store: store.cursor())
            if not await self._journal.after(cursor, 1) and not self._tasks:
                return
            await asyncio.sleep(0.05)

    # -- dispatch ------------------------------------------------------------------------------

    async def _follow(self) -> None:
        cursor = await self._incidents.run(lambda store: store.cursor())
        while True:
            self._journal.appended.clear()
            batch = await self._journal.after(cursor, _BATCH)
            if not batch:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_IDLE_POLL):
                        await self._journal.appended.wait()
                continue
            try:
                await self._dispatch(batch)
            except Exception:  # a store fault: retry the same batch, never lose events
                log.exception(
                    "dispatching events %d-%d failed; retrying", batch[0][0], batch[-1][0]
                )
                await asyncio.sleep(_IDLE_POLL)
                continue
            cursor = batch[-1][0]

    async def _dispatch(self, batch: list[tuple[int, Event]]) -> None:
        # Each container of the batch is looked up once, all at once (the engine's thread pool
        # bounds them); the open incidents of every (playbook, target) the batch matched are
        # read in one store call. A storm of repeats then costs a few round trips per batch,
        # not one or two per event.
        # Events are matched without their container first: only those a playbook could
        # want are looked up and matched again with it (`needs_container`).
        first = [match_event(event, self._playbooks) for _, event in batch]
        wants = [
            event.target is not None and needs_container(verdicts)
            for (_, event), verdicts in zip(batch, first, strict=True)
        ]
        containers = await self._lookups.of(
            [event for (_, event), want in zip(batch, wants, strict=True) if want]
        )
        # (seq, event, verdicts, container, target): the target is the container's id when
        # it was found, else the event's own reference.
        matched: list[tuple[int, Event, list[Verdict], ContainerInfo | None, str | None]] = []
        wanted: dict[tuple[str, str | None], str] = {}
        for (seq, event), verdicts_without, want in zip(batch, first, wants, strict=True):
            ref = event.target.ref if event.target else None
            container = containers.get(ref) if want and ref else None
            verdicts = match_event(event, self._playbooks, container) if want else verdicts_without
            target = container.id if container else ref
            matched.append((seq, event, verdicts, container, target))
            for verdict in verdicts:
                if verdict.matched:
                    wanted.setdefault(
                        (verdict.playbook.name, target), self._since(verdict.playbook)
                    )
        known = await self._open_incidents(wanted) if wanted else {}
        opened: list[NewIncident] = []
        joined: list[tuple[str, str, str]] = []
        sources: dict[str, str] = {}
        for seq, event, verdicts, container, target in matched:
            self._audit_accepted(seq, event)
            self._audit_verdicts(event, verdicts)
            for verdict in verdicts:
                if not verdict.matched:
                    continue
                loaded = verdict.playbook
                key = (loaded.name, target)
                existing = known.get(key)
                if existing:
                    joined.append((existing, event.id, event.received_at.isoformat()))
                    self._audit.record(
                        "incident.joined", incident=existing, event=event.id, playbook=loaded.name
                    )
                    continue
                incident = _new_incident(loaded, event, target, container)
                known[key] = incident["id"]
                opened.append(incident)
                sources[loaded.digest] = loaded.source
                self._audit.record(
                    "incident.opened",
                    incident=incident["id"],
                    event=event.id,
                    playbook=loaded.name,
                    playbook_digest=loaded.digest,
                    target=target,
                )
        cursor = batch[-1][0]
        # The audit lines are on disk before the cursor moves: a crash in between repeats
        # some lines at the next start, never loses one.
        await self._audit.flush()
        await self._incidents.run(lambda store: store.dispatch(cursor, opened, joined, sources))
        for incident in opened:
            log.info(
                "incident %s opened: %s on %s",
                incident["id"],
                incident["playbook"],
                incident["target"],
            )
            self._spawn(incident["id"])

    def _audit_accepted(self, seq: int, event: Event) -> None:
        self._audit.record(
            "event.accepted",
            event=event.id,
            journal_seq=seq,
            source=event.source,
            name=event.name,
            status=event.status,
            priority=event.priority.label,
            target=event.target.ref if event.target else None,
            received_at=event.received_at.isoformat(),
        )

    def _audit_verdicts(self, event: Event, verdicts: Sequence[Verdict]) -> None:
        matched = [v.playbook.name for v in verdicts if v.matched]
        # Why each playbook did not match: its first failing condition is the reason.
        why_not = {v.playbook.name: v.reasons[0] for v in verdicts if not v.matched and v.reasons}
        if matched:
            self._audit.record(
                "event.matched", event=event.id, playbooks=matched, not_matched=why_not
            )
        else:
            self._audit.record("event.unmatched", event=event.id, not_matched=why_not)

    def _since(self, loaded: LoadedPlaybook) -> str:
        """The start of the playbook's cooldown: incidents opened since then are joined."""
        return window_start(loaded.playbook.cooldown or self._settings.incidents.cooldown)

    async def _open_incidents(
        self, wanted: dict[tuple[str, str | None], str]
    ) -> dict[tuple[str, str | None], str]:
        """The open incident, if any, of each (playbook, target) since its time, in one call."""
        queries = [(playbook, target, since) for (playbook, target), since in wanted.items()]
        # After a fault the retries did not outlast, the first repeat tries again at once; the
        # next retries wait the longest wait between retries, then twice that, and so on.
        hold_off = self._settings.limits.retry_backoff_max.total_seconds()
        return await self._incidents.run(lambda store: store.open_incidents_for(queries, hold_off))

    def _spawn(self, incident_id: str) -> None:
        task = asyncio.create_task(self._runner.run(incident_id), name=f"incident {incident_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _new_incident(
    loaded: LoadedPlaybook, event: Event, target: str | None, container: ContainerInfo | None
) -> NewIncident:
    seen = event.received_at.isoformat()
    return NewIncident(
        id=new_event_id(),
        playbook=loaded.name,
        playbook_digest=loaded.digest,
        playbook_file=loaded.where,
        target=target,
        container_id=container.id if container else (event.target.id if event.target else None),
        container_name=container.name
        if container
        else (event.target.name if event.target else None),
        image=container.image if container else None,
        state="running",
        reason=None,
        dry_run=int(loaded.playbook.dry_run),
        event_source=event.source,
        event_name=event.name,
        priority=event.priority.label,
        first_event=event.id,
        event_count=1,
        first_seen=seen,
        last_seen=seen,
        opened_at=now(),
    )
