"""Dispatch: one batch of journaled events matched, looked up, joined or opened, in one commit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from responder.incidents import Dispatch, SetAside, window_start
from responder.journal import Unreadable
from responder.playbooks import match_candidates, needs_container
from responder.worker.joining import Matched, join_query, plan_dispatch

if TYPE_CHECKING:
    from collections.abc import Sequence

    from responder.audit import AuditLog
    from responder.incidents import Deferred, Incidents, JoinQuery
    from responder.journal import Event
    from responder.playbooks import PlaybookSet, Verdict
    from responder.settings import Settings
    from responder.worker.lookups import ContainerLookups

__all__ = ["Dispatcher", "Row"]

Row = tuple[int, "Event | Unreadable"]
"""A journal row as the worker reads it: its sequence number and the event (or why not)."""


class Dispatcher:
    """Turns journal rows into store changes: incidents opened and joined, events set aside."""

    def __init__(
        self,
        *,
        settings: Settings,
        incidents: Incidents,
        playbooks: PlaybookSet,
        audit: AuditLog,
        lookups: ContainerLookups,
    ) -> None:
        self._settings = settings
        self._incidents = incidents
        self._playbooks = playbooks
        self._audit = audit
        self._lookups = lookups

    async def __call__(
        self, batch: Sequence[Row], *, cursor: int | None, undefer: bool = False
    ) -> Dispatch:
        """Dispatch the rows and commit; `cursor`: what the journal is then read up to.

        `undefer`: the rows are deferred events dispatched again (the cursor stays). A row
        that does not read back is quarantined; an event whose container the engine did not
        answer about is deferred, not matched without it.
        """
        changes = Dispatch(cursor=cursor)
        if undefer:
            changes.undeferred.extend(seq for seq, _ in batch)
        events: list[tuple[int, Event]] = []
        for seq, item in batch:
            if isinstance(item, Unreadable):
                changes.quarantined.append(SetAside(seq, item.id, item.error))
            else:
                events.append((seq, item))
        matched = await self._match(events, changes)
        since, known = await self._open_incidents(matched)
        for one in matched:
            self._audit_event(one.seq, one.event, one.verdicts)
        for line in plan_dispatch(matched, known, since, changes):
            self._audit.record(line.kind, **line.fields)
        return await self._commit(changes)

    async def _open_incidents(
        self, matched: list[Matched]
    ) -> tuple[dict[str, str], dict[JoinQuery, str]]:
        """Each matched playbook's cooldown start, and the open incident each match would join.

        Each container of the batch was looked up once, all at once (the engine's thread pool
        bounds them); the open incidents of every (playbook, subject) the batch matched are
        read in one store call. A storm of repeats then costs a few round trips per batch.
        """
        since = {v.playbook.name: self._since(v) for m in matched for v in m.verdicts if v.matched}
        queries = {
            join_query(v.playbook, m, since[v.playbook.name])
            for m in matched
            for v in m.verdicts
            if v.matched
        }
        if not queries:
            return since, {}
        hold_off = self._settings.limits.retry_backoff_max.total_seconds()
        known = await self._incidents.run(lambda store: store.open_incidents_for(queries, hold_off))
        return since, known

    async def quarantine(self, seq: int, event_id: str, why: str) -> Dispatch:
        """Set one event aside and move the cursor past it: dispatch keeps failing on it."""
        return await self._commit(Dispatch(cursor=seq, quarantined=[SetAside(seq, event_id, why)]))

    async def give_up(self, row: Deferred, why: str) -> Dispatch:
        """Quarantine a deferred event: its container lookup never gets an answer."""
        changes = Dispatch(cursor=None, quarantined=[SetAside(row.seq, row.event_id, why)])
        changes.undeferred.append(row.seq)
        return await self._commit(changes)

    async def _commit(self, changes: Dispatch) -> Dispatch:
        """Audit what is set aside, then write the changes in one store transaction.

        The audit lines are on disk before the cursor moves: a crash in between repeats some
        lines at the next start, never loses one.
        """
        self._audit_set_aside(changes)
        await self._audit.flush()
        await self._incidents.run(lambda store: store.dispatch(changes))
        return changes

    async def _match(self, events: list[tuple[int, Event]], changes: Dispatch) -> list[Matched]:
        """Verdicts for every event; those whose container lookup faulted are deferred instead.

        Events are matched without their container first: only those a playbook could want
        are looked up and matched again with it (`needs_container`). Matching without the
        container of an engine that did not answer would decide on what is not known.
        """
        first = [match_candidates(event, self._playbooks) for _, event in events]
        wants = [
            event.target is not None and needs_container(verdicts)
            for (_, event), verdicts in zip(events, first, strict=True)
        ]
        lookups = await self._lookups.of(
            [e.target for (_, e), want in zip(events, wants, strict=True) if want and e.target]
        )
        matched: list[Matched] = []
        for (seq, event), without, want in zip(events, first, wants, strict=True):
            lookup = lookups[event.target] if want and event.target else None
            if lookup is None:
                matched.append(Matched(seq, event, without, None))
            elif lookup.fault is not None:
                changes.deferred.append(SetAside(seq, event.id, lookup.fault))
            else:
                verdicts = match_candidates(event, self._playbooks, lookup.container)
                matched.append(Matched(seq, event, verdicts, lookup.container))
        # A deferred event deferred again just stays deferred (no new audit line per retry).
        retried = set(changes.undeferred)
        again = {d.seq for d in changes.deferred if d.seq in retried}
        changes.undeferred[:] = [seq for seq in changes.undeferred if seq not in again]
        changes.deferred[:] = [d for d in changes.deferred if d.seq not in again]
        return matched

    def _audit_set_aside(self, changes: Dispatch) -> None:
        for e in changes.quarantined:
            self._audit.record(
                "event.quarantined", event=e.event_id, journal_seq=e.seq, error=e.why
            )
        for e in changes.deferred:
            self._audit.record("event.deferred", event=e.event_id, journal_seq=e.seq, reason=e.why)

    def _audit_event(self, seq: int, event: Event, verdicts: Sequence[Verdict]) -> None:
        """What the worker decided on one event, and why each playbook did not match.

        An event a playbook matched gets `event.accepted`, then `event.matched`. One that no
        playbook wants (the bulk of a flood of noise) gets a single `event.unmatched` line
        holding both: what `event.accepted` says of it, and each playbook's first failing
        condition, which is what "why did it not act?" asks.
        """
        matched = [v.playbook.name for v in verdicts if v.matched]
        # Why each candidate did not match: its first failing condition is the reason. The
        # others (other rules or alertnames, or disabled) are counted, not listed one by one.
        why_not = {v.playbook.name: v.reasons[0] for v in verdicts if not v.matched and v.reasons}
        others = len(self._playbooks.playbooks) - len(verdicts)
        if not matched:
            self._audit.record(
                "event.unmatched",
                **_accepted(seq, event),
                not_matched=why_not,
                not_candidates=others,
            )
            return
        self._audit.record("event.accepted", **_accepted(seq, event))
        self._audit.record(
            "event.matched",
            event=event.id,
            playbooks=matched,
            not_matched=why_not,
            not_candidates=others,
        )

    def _since(self, verdict: Verdict) -> str:
        """The start of the playbook's cooldown: incidents opened since then are joined."""
        return window_start(verdict.playbook.playbook.cooldown or self._settings.incidents.cooldown)


def _accepted(seq: int, event: Event) -> dict[str, str | int | None]:
    """The fields of `event.accepted`: the event as the worker took it from the journal."""
    return {
        "event": event.id,
        "journal_seq": seq,
        "source": event.source,
        "name": event.name,
        "status": event.status,
        "priority": event.priority.label,
        "target": event.target.ref if event.target else None,
        "received_at": event.received_at.isoformat(),
    }
