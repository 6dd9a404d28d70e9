"""The phases left to the humans (investigation, eradication, recovery, lessons learned), as to-dos.

Every item names this incident's container, image, files and commands, so that someone woken
at 3 a.m. can act on it without looking anything up. Values that may come from an alert are
kept apart from the wording (see `ChecklistItem`) and quoted for the shell where they form part
of a command.
"""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import TYPE_CHECKING

from responder.reports._facts import Facts, item
from responder.reports._investigation import investigation
from responder.reports._parts import ChecklistPhase

if TYPE_CHECKING:
    from responder.reports._parts import ChecklistItem

__all__ = ["Facts", "checklist"]


def checklist(facts: Facts) -> tuple[ChecklistPhase, ...]:
    """The four phases after detection and containment, each a short list for this incident."""
    return (
        ChecklistPhase(phase="Investigation", items=tuple(investigation(facts))),
        ChecklistPhase(phase="Eradication", items=tuple(_eradication(facts))),
        ChecklistPhase(phase="Recovery", items=tuple(_recovery(facts))),
        ChecklistPhase(phase="Lessons learned", items=tuple(_lessons(facts))),
    )


def _eradication(facts: Facts) -> list[ChecklistItem]:
    """Stop it if nothing did, remove it, close the way in, rotate its secrets."""
    items = []
    ref = shlex.quote(facts.ref) if facts.ref else None
    if ref and not facts.changed and facts.release.state == "not released":
        items.append(
            item(
                "Nothing was contained ({}): decide now whether {} must be stopped; pausing keeps "
                "its memory for forensics: {}",
                facts.record.state,
                facts.ref or "",
                f"docker pause {ref}",
            )
        )
    if ref:
        items.append(
            item(
                "Once the evidence is verified, remove the compromised container instead of "
                "repairing it (the evidence directory stays): {}",
                f"docker rm -f {ref}",
            )
        )
    if facts.record.image:
        items.append(
            item(
                "Close the way in: rebuild {} from a patched base image and dependencies; check "
                "exposed ports and services. Other containers from it: {}",
                facts.record.image,
                f"docker ps --filter ancestor={shlex.quote(facts.record.image)}",
            )
        )
    items.append(
        item(
            "Rotate every secret the container could read: environment variables, mounted secrets "
            "and tokens (Config.Env and Mounts in inspect.json)."
        )
    )
    return items


# Long on purpose: one checklist item per recovery step, each with its command.
def _recovery(facts: Facts) -> list[ChecklistItem]:
    """Redeploy clean and release, or confirm what release did; validate; watch."""
    release = facts.release
    items = []
    if release.state == "not released" and release.needed:
        items.append(
            item(
                "Redeploy from a clean, rebuilt image; then undo the containment of this "
                "container (only if you keep it): {}",
                release.command,
            )
        )
    elif release.state == "not released":
        items.append(item("Release has nothing to undo: no step left a change it can reverse."))
    else:
        items.append(
            item(
                "Release ran at {} ({}): confirm the container running now is the clean one.",
                release.released_at or "?",
                release.state,
            )
        )
    items.extend(
        item(
            "Release could not undo step {} ({}): {}; fix that by hand.",
            str(step.index + 1),
            step.action,
            step.release_detail or "",
        )
        for step in facts.timeline
        if step.release_status == "failed"
    )
    items.append(
        item(
            "Validate the redeployed container: non-root user, read-only root filesystem, all "
            "capabilities dropped, no-new-privileges, CPU and memory limits."
        )
    )
    items.append(
        item(
            "Watch for a recurrence over the next day: {} and {}",
            f"responder events --name {shlex.quote(facts.trigger.name)}",
            "responder incidents",
        )
    )
    return items


def _lessons(facts: Facts) -> list[ChecklistItem]:
    """The timeline, the rule, the playbook, the channels, and the review."""
    record = facts.record
    took = _seconds(facts.trigger.first_seen, record.finished_at)
    items = [
        item(
            "Write down the timeline: first event {}, incident opened {}, steps finished {}"
            + (f" ({took:.1f} s from the first event)." if took is not None else "."),
            facts.trigger.first_seen,
            record.opened_at,
            record.finished_at or "not yet",
        ),
        item(
            "Was {} a true positive? If not, add an exception to the rule rather than disabling it.",
            facts.trigger.name,
        ),
        item(
            "Review the playbook {} ({}): did its steps fit? Change it, then run {}",
            record.playbook,
            record.playbook_file,
            "responder check",
        ),
    ]
    items.extend(
        item("Fix the channel {}: it last failed with {}", n.channel, n.last_error or "?")
        for n in facts.notifications
        if n.state == "failed"
    )
    items.append(item("Share this report in the post-incident review: {}", facts.report_at))
    return items


def _seconds(start: str, end: str | None) -> float | None:
    """Seconds between two ISO 8601 times, or None if either is missing or unreadable."""
    if end is None:
        return None
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except (ValueError, TypeError):  # unreadable, or one has a zone and the other not
        return None
