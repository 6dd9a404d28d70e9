"""`responder plan EVENT_FILE`: which playbooks match and what each step would do. Nothing changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from responder.cli._common import emit_json, say
from responder.cli._loading import load_everything, read_body
from responder.engine import SdkEngine, not_found
from responder.errors import ConfigError, InputError, ResponderError
from responder.intake.bodies import events_from_body
from responder.planning import EventPlan, PlannedStep, plan_event

if TYPE_CHECKING:
    import argparse

    from responder.cli._loading import Loaded
    from responder.cli._types import Subparsers
    from responder.engine import ContainerInfo
    from responder.journal import Event

__all__ = ["register"]


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add `plan`."""
    parser = commands.add_parser(
        "plan",
        parents=[parent],
        help="dry-run playbooks against an event body",
        description=__doc__,
    )
    parser.add_argument(
        "event_file", type=Path, metavar="EVENT_FILE", help="a Falco or Alertmanager body"
    )
    parser.add_argument("--playbooks", type=Path, metavar="DIR", help="playbooks to use instead")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


async def _lookup(
    loaded: Loaded, events: list[Event]
) -> dict[str, tuple[ContainerInfo | None, str, str | None]]:
    """Each event's container as the run would resolve it: (container, note, engine fault)."""
    engine = SdkEngine(loaded.settings.docker)
    found: dict[str, tuple[ContainerInfo | None, str, str | None]] = {}
    try:
        for event in events:
            if event.target is None:
                note = "no container: the event is about the host or names none"
                found[event.id] = (None, note, None)
                continue
            try:
                container = await engine.resolve(event.target)
            except ResponderError as exc:
                fault = f"the Docker engine does not answer: {exc}"
                found[event.id] = (None, f"not checked: {exc}", fault)
                continue
            note = "live" if container else not_found(event.target)
            found[event.id] = (container, note, None)
    finally:
        await engine.close()
    return found


def run(args: argparse.Namespace) -> int:
    """Print the plan of every event in the body."""
    loaded = load_everything(args, [args.playbooks] if args.playbooks else None)
    try:
        events = events_from_body(
            read_body(args.event_file), datetime.now(UTC), loaded.settings.targets
        )
    except InputError as exc:
        raise ConfigError(f"{args.event_file}: {exc.message}") from exc
    containers = asyncio.run(_lookup(loaded, events))
    plans = [
        plan_event(
            event,
            playbooks=loaded.playbooks,
            actions=loaded.actions,
            templates=loaded.templates,
            container=containers[event.id][0],
            container_note=containers[event.id][1],
            protection=loaded.settings.protection,
            unreachable=containers[event.id][2],
        )
        for event in events
    ]
    if args.json:
        emit_json([_as_json(plan) for plan in plans])
    else:
        for plan in plans:
            _print(plan)
    return 0


def _container_json(plan: EventPlan) -> dict[str, Any]:
    container = plan.container
    base: dict[str, Any] = {
        "note": plan.container_note,
        "target": plan.event.target.ref if plan.event.target else None,
    }
    if container:
        base |= {
            "id": container.id,
            "name": container.name,
            "image": container.image,
            "labels": dict(container.labels),
            "status": container.status,
        }
    return base


def _as_json(plan: EventPlan) -> dict[str, Any]:
    event = plan.event
    return {
        "dry_run": True,
        "event": {
            "source": event.source,
            "name": event.name,
            "priority": event.priority.label,
            "status": event.status,
            "hostname": event.hostname,
        },
        "container": _container_json(plan),
        "playbooks": [
            {
                "name": v.playbook.name,
                "where": v.playbook.where,
                "matched": v.matched,
                "reasons": list(v.reasons),
            }
            for v in plan.verdicts
        ],
        "plans": [
            {
                "playbook": p.playbook.name,
                "version": p.playbook.digest[:12],
                "stopped_by": p.gate.reason,
                "state": p.gate.state,
                "steps": [step.to_json() for step in p.steps],
            }
            for p in plan.plans
        ],
    }


def _print(plan: EventPlan) -> None:
    event = plan.event
    host = f" on {event.hostname}" if event.hostname else ""
    say(f"{event.source} {event.name!r} {event.priority.label} {event.status}{host}\n")
    container = plan.container
    if container:
        detail = f"id {container.id}, image {container.image}, {container.status}"
        say(f"  container: {container.name} ({detail})\n")
    else:
        say(f"  container: {plan.container_note}\n")
    if not plan.verdicts:
        say("  no playbooks loaded\n")
    for verdict in plan.verdicts:
        if not verdict.matched:
            say(f"  - {verdict.playbook.name}: no match: {verdict.reasons[0]}\n")
    for matched in plan.plans:
        say(
            f"  + {matched.playbook.name} ({matched.playbook.where}) matches: {'; '.join(matched.reasons)}\n"
        )
        if matched.gate.state == "failed":
            say(
                "      the incident would fail; its notify steps still run, so on-call hears of it\n"
            )
        for step in matched.steps:
            say(f"      {step.index + 1}. {step.action:<16} {_step_line(step)}\n")
    say("  (dry-run: nothing was changed)\n")


def _step_line(step: PlannedStep) -> str:
    if step.error:
        return f"ERROR rendering parameters: {step.error}"
    if step.fails:
        return f"would fail: {step.fails}"
    if step.skipped:
        return f"would skip: {step.skipped}"
    return f"would {step.description}"
