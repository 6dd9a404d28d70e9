"""Rendering messages: the default text, a channel's own template, dry-run, failures, release."""

from __future__ import annotations

from typing import Any

import pytest
from _builders import make_event
from jinja2.exceptions import SecurityError

from responder.incidents import IncidentRecord, StepRecord
from responder.journal import Priority
from responder.notifications.channels import MessageStep
from responder.notifications.messages import MessageFacts, build_message
from responder.playbooks import template_context
from responder.text import Templates

RECORD = IncidentRecord(
    id="01JQ8ZK3V5T7W9X1Y2Z3A4B5C6",
    playbook="contain-shell",
    playbook_digest="0" * 64,
    playbook_file="playbooks/shell.yaml:1",
    target="0123456789ab",
    container_id="0123456789ab",
    container_name="web-1",
    image="web:1.4",
    state="running",
    reason=None,
    dry_run=False,
    event_source="falco",
    event_name="Terminal shell in container",
    priority="Critical",
    first_event="01JQ8ZK3V5T7W9X1Y2Z3A4B5C7",
    event_count=4,
    first_seen="2026-11-24T03:12:45+00:00",
    last_seen="2026-11-24T03:13:45+00:00",
    opened_at="2026-11-24T03:12:45+00:00",
    finished_at=None,
    released_at=None,
)


def facts(**changes: Any) -> MessageFacts:
    """A contained incident as its notify step sees it; keyword arguments change it."""
    event = make_event(
        output="A shell in web-1 \x1b[2J{{ 7*7 }}\u202e",
        hostname="host-a",
        priority=Priority.CRITICAL,
    )
    values: dict[str, Any] = {
        "record": RECORD,
        "context": template_context(event, None),
        "steps": [
            StepRecord(index=0, action="docker:pause", status="done", detail="paused web-1"),
        ],
        "state": "contained",
        "dry_run": False,
        "report": "/data/reports/x/report.md",
        "release_command": "responder release --data-dir /data 01JQ",
    }
    return MessageFacts(**(values | changes))


def test_the_default_message_says_what_fired_what_was_done_and_how_to_undo_it() -> None:
    """Priority and rule, host, playbook, steps, repeats, the report and the release command."""
    message = build_message("incident", facts(), Templates(), None)
    text = message.text
    assert "Critical: Terminal shell in container" in text
    assert "Host: host-a" in text
    assert "Playbook: contain-shell" in text
    assert "1. docker:pause: paused web-1" in text
    assert "Events: 4 (repeats are counted, not acted on again)" in text
    assert "Report: /data/reports/x/report.md" in text
    assert "Undo: responder release --data-dir /data 01JQ" in text
    assert message.title == ("[CONTAINED] Critical: Terminal shell in container: web-1 on host-a")


def test_alert_text_is_printed_with_visible_escapes_and_never_evaluated() -> None:
    """`{{ 7*7 }}` from the alert stays literal; escape sequences and bidi controls show as escapes."""
    text = build_message("incident", facts(), Templates(), None).text
    assert "Alert:\n> A shell in web-1 \\x1b[2J{{ 7*7 }}\\u202e\n" in text
    assert "[2J49" not in text
    assert "\x1b" not in text
    assert "\u202e" not in text


def test_a_dry_run_says_nothing_was_changed_and_offers_no_undo() -> None:
    """Dry-run: the first line says so, steps are what would be done, no release command."""
    would = StepRecord(index=0, action="docker:pause", status="would", detail="would pause web-1")
    message = build_message(
        "incident",
        facts(dry_run=True, state="dry-run", steps=[would], release_command=None),
        Templates(),
        None,
    )
    assert message.text.startswith("DRY RUN: nothing was changed.")
    assert "Would do:\n  1. docker:pause: would pause web-1" in message.text
    assert "Undo:" not in message.text
    assert message.title.startswith("[DRY-RUN] Critical: Terminal shell in container")


def test_a_failed_step_is_listed_under_failed_with_its_error() -> None:
    """What failed is said plainly, with the error, not buried in the step list."""
    failed = StepRecord(
        index=0,
        action="docker:isolate",
        status="failed",
        detail="failed: engine",
        error="the Docker engine does not answer",
    )
    message = build_message("incident", facts(steps=[failed]), Templates(), None)
    assert "FAILED:\n  - docker:isolate: the Docker engine does not answer" in message.text
    assert message.failed == ("docker:isolate: the Docker engine does not answer",)


def test_a_release_notice_lists_what_was_restored_and_what_was_not() -> None:
    """The release message: its own heading, each step restored or not, and what stayed."""
    steps = [
        MessageStep(action="docker:pause", status="restored", detail="unpaused web-1"),
        MessageStep(action="docker:isolate", status="failed", detail="network gone", error="gone"),
    ]
    message = build_message(
        "release",
        facts(steps=steps, state="partially released"),
        Templates(),
        None,
    )
    assert message.text.startswith("RELEASED: incident 01JQ8ZK3V5T7W9X1Y2Z3A4B5C6")
    assert "- docker:pause: restored: unpaused web-1" in message.text
    assert "NOT restored:\n  - docker:isolate: gone" in message.text
    assert message.title.startswith("[PARTIALLY RELEASED]")


def test_a_channel_template_replaces_the_text_and_sees_the_incident() -> None:
    """A channel's own template renders with the same context, including `incident`."""
    template = "{{ incident.state }} {{ container.name }} {{ incident.steps|length }}"
    message = build_message("incident", facts(), Templates(), template)
    assert message.text == "contained web-1 1\n"


def test_a_template_cannot_reach_python_internals() -> None:
    """The sandbox refuses attribute tricks in a channel template."""
    with pytest.raises(SecurityError):
        build_message("incident", facts(), Templates(), "{{ incident.__class__.__mro__ }}")


def test_a_release_notice_renders_without_the_event() -> None:
    """An incident whose event is no longer journaled still gets a release notice."""
    message = build_message("release", facts(context={}, state="released"), Templates(), None)
    assert message.text.startswith("RELEASED: incident 01JQ8ZK3V5T7W9X1Y2Z3A4B5C6")
    assert "Container: web-1 on unknown host" in message.text
