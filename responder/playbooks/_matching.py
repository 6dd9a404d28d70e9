"""Matching: a pure function of an event, the playbooks and the live container, with reasons."""

from __future__ import annotations

import fnmatch
import functools
import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from responder.engine import ContainerInfo
    from responder.journal import Event
    from responder.playbooks._conditions import Condition
    from responder.playbooks._loader import LoadedPlaybook, PlaybookSet
    from responder.playbooks._model import ContainerSelector, Match

__all__ = ["Verdict", "match_candidates", "match_event", "needs_container"]

_NO_CONTAINER = "the container selector needs the live container, and none was found"


@dataclass(frozen=True)
class Verdict:
    """One playbook tried on one event: matched or not, and the reasons, in order."""

    playbook: LoadedPlaybook
    matched: bool
    reasons: tuple[str, ...]
    container_missing: bool = False
    """Every event condition held; only the container selector failed, for want of a container."""


@functools.lru_cache(maxsize=1024)
def _globs(patterns: tuple[str, ...]) -> tuple[re.Pattern[str] | None, str]:
    """One expression for exact names and globs (`fnmatchcase` rules), and the list as shown.

    Both are made once per list, not once per event.
    """
    expression = "|".join(fnmatch.translate(pattern) for pattern in patterns)
    return (re.compile(expression) if patterns else None), repr(list(patterns))


def _names(patterns: list[str], name: str, what: str) -> str | None:
    expression, shown = _globs(tuple(patterns))
    if expression is not None and expression.match(name):
        return None
    return f"{what} {name!r} is not among {shown}"


def _mapping(
    conditions: dict[str, Condition], values: Mapping[str, object], what: str
) -> Iterator[tuple[str, str | None]]:
    for key, condition in conditions.items():
        value = values.get(key)
        failed = condition.test(value, present=key in values)
        yield (
            f"{what} {key} {', '.join(condition.operators())} holds",
            (None if failed is None else f"{what} {key} {failed}"),
        )


def _checks(match: Match, event: Event) -> Iterator[tuple[str, str | None]]:  # noqa: C901 - one line per keyword
    """(what held, why it failed) for every condition the playbook writes, cheapest first."""
    if match.source is not None:
        failed = (
            None if event.source in match.source else f"source {event.source} is not {match.source}"
        )
        yield f"source is {event.source}", failed
    if match.rules is not None:
        if event.source != "falco":
            yield "", f"rules apply to Falco events, this is {event.source}"
        else:
            yield f"rule {event.name!r} listed", _names(match.rules, event.name, "rule")
    if match.alertnames is not None:
        if event.source != "alertmanager":
            yield "", f"alertnames apply to Alertmanager events, this is {event.source}"
        else:
            yield (
                f"alertname {event.name!r} listed",
                _names(match.alertnames, event.name, "alertname"),
            )
    if match.priority is not None:
        yield (
            f"priority {event.priority.label} {match.priority}",
            match.priority.test(event.priority),
        )
    if match.status is not None:
        failed = None if event.status == match.status else f"status is {event.status}"
        yield f"status is {event.status}", failed
    if match.tags is not None:
        yield "tags qualify", match.tags.test(event.tags)
    if match.hostname is not None:
        failed = match.hostname.test(event.hostname, present=event.hostname is not None)
        yield "hostname holds", None if failed is None else f"hostname {failed}"
    if match.output is not None:
        failed = match.output.test(event.output)
        yield "output holds", None if failed is None else f"output {failed}"
    yield from _mapping(match.fields, event.fields, "field")
    yield from _mapping(match.labels, event.labels, "label")
    yield from _mapping(match.annotations, event.annotations, "annotation")


def _container_checks(
    selector: ContainerSelector, container: ContainerInfo
) -> Iterator[tuple[str, str | None]]:
    if selector.running is not None:
        failed = (
            None if container.running == selector.running else f"container is {container.status}"
        )
        yield f"container is {container.status}", failed
    for what, condition, value in (
        ("name", selector.name, container.name),
        ("image", selector.image, container.image),
    ):
        if condition is not None:
            failed = condition.test(value)
            yield (
                f"container {what} holds",
                None if failed is None else f"container {what} {failed}",
            )
    yield from _mapping(selector.labels, container.labels, "container label")


def _verdict(playbook: LoadedPlaybook, event: Event, container: ContainerInfo | None) -> Verdict:
    match = playbook.playbook.match
    held: list[str] = []
    checks = _checks(match, event)
    if match.container is not None:
        if container is None:
            return _without_container(playbook, checks)
        checks = itertools.chain(checks, _container_checks(match.container, container))
    for reason, failed in checks:
        if failed is not None:
            return Verdict(playbook, matched=False, reasons=(failed,))
        held.append(reason)
    return Verdict(playbook, matched=True, reasons=tuple(held) or ("matches every event",))


def _without_container(
    playbook: LoadedPlaybook, checks: Iterator[tuple[str, str | None]]
) -> Verdict:
    """A playbook with a container selector and no container: its event conditions decide."""
    for _, failed in checks:
        if failed is not None:
            return Verdict(playbook, matched=False, reasons=(failed,))
    return Verdict(playbook, matched=False, reasons=(_NO_CONTAINER,), container_missing=True)


def match_event(
    event: Event, playbooks: PlaybookSet, container: ContainerInfo | None = None
) -> list[Verdict]:
    """Try every playbook in order (`order`, then file, then position).

    Every matching playbook applies, unless one marked `final: true` matches: the playbooks
    after it are then not tried. Disabled playbooks are reported and never match.
    """
    return _tried(playbooks.playbooks, event, container)


def match_candidates(
    event: Event, playbooks: PlaybookSet, container: ContainerInfo | None = None
) -> list[Verdict]:
    """The verdicts of `match_event` for the playbooks the event could match, in the same order.

    The index (`PlaybookSet.index`) leaves out disabled playbooks and those filed under other
    rules or alertnames: each fails in `match_event`, and never for want of a container. So the
    matches, the final playbook that stops the rest, and every verdict given here are those of
    the scan; the playbooks left out are `len(playbooks.playbooks) - len(result)`.
    """
    return _tried(playbooks.candidates(event.source, event.name), event, container)


def _tried(
    playbooks: Iterable[LoadedPlaybook], event: Event, container: ContainerInfo | None
) -> list[Verdict]:
    verdicts: list[Verdict] = []
    stopped_by: str | None = None
    for playbook in playbooks:
        if stopped_by is not None:
            verdicts.append(
                Verdict(playbook, matched=False, reasons=(f"not tried: {stopped_by} is final",))
            )
            continue
        if not playbook.playbook.enabled:
            verdicts.append(Verdict(playbook, matched=False, reasons=("disabled",)))
            continue
        verdict = _verdict(playbook, event, container)
        verdicts.append(verdict)
        if verdict.matched and playbook.playbook.final:
            stopped_by = playbook.name
    return verdicts


def needs_container(verdicts: Sequence[Verdict]) -> bool:
    """Whether verdicts reached without the live container could change with it.

    They can only when a playbook matched (the container is then the incident's target) or
    failed on its container selector alone, every event condition having held. Otherwise each
    verdict failed on an event condition, checked before any container condition, with the
    same first reason either way; so an event no playbook wants costs no inspect.
    """
    return any(v.matched or v.container_missing for v in verdicts)
