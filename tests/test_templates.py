"""Safe templates: alert text is data, never a template, and the sandbox holds against escapes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from _builders import load_text, make_event, registry
from jinja2.exceptions import SecurityError

from responder.engine import ContainerInfo
from responder.journal import Target
from responder.planning import plan_event
from responder.playbooks import template_context
from responder.text import Templates, is_template

if TYPE_CHECKING:
    from pathlib import Path

    from responder.journal import Event
    from responder.planning import PlannedStep
    from responder.playbooks import PlaybookSet

HOSTILE = [
    "{{ 7*7 }}",
    "{% for x in range(3) %}loop{% endfor %}",
    "{{ ''.__class__.__mro__ }}",
    "{# comment #}",
    "{% raw %}{{ 7*7 }}{% endraw %}",
    "{{ event.__class__ }}",
]
LIMIT = 64 * 1024
WEB = ContainerInfo(id="0123456789ab", name="web-1", image="nginx:1.25")
# What a sandbox escape would print: class, function and module reprs, or a subclass list.
LEAKS = ("<class", "<function", "<built-in", "<module", "<bound", "object at 0x", "subclasses")


def hostile_event(text: str) -> Event:
    """A Falco event with `text` in its output, a label value, a field value and a tag."""
    return make_event(
        output=text,
        labels={"team": text},
        fields={"proc.cmdline": text, "container.name": "web-1"},
        tags=("container", text),
        target=Target(name="web-1"),
    )


def render(template: str, event: Event, container: ContainerInfo | None = WEB) -> str:
    """Render an operator's template against the context `plan` would give for `event`."""
    return Templates().render(template, template_context(event, container))


def render_or_refuse(template: str) -> str:
    """The rendered text of an escape attempt, or "" if the sandbox refused it."""
    try:
        return render(template, make_event(fields={"proc.name": "bash"}))
    except SecurityError:
        return ""


# alert text is data


@pytest.mark.parametrize("text", HOSTILE)
def test_output_with_template_syntax_is_literal(text: str) -> None:
    """A Falco output that holds template syntax is inserted as text, not evaluated."""
    assert render("{{ event.output }}", hostile_event(text)) == text


@pytest.mark.parametrize("text", HOSTILE)
def test_label_with_template_syntax_is_literal(text: str) -> None:
    """A label value that holds template syntax is inserted as text, not evaluated."""
    assert render("team={{ event.labels.team }}", hostile_event(text)) == f"team={text}"


@pytest.mark.parametrize("text", HOSTILE)
def test_field_with_template_syntax_is_literal(text: str) -> None:
    """A field value that holds template syntax is inserted as text, not evaluated."""
    rendered = render("{{ event.fields['proc.cmdline'] }}", hostile_event(text))
    assert rendered == text


def test_tag_with_template_syntax_is_literal() -> None:
    """A tag that holds template syntax is joined as text, not evaluated."""
    rendered = render("{{ event.tags | join(' ') }}", hostile_event("{{ 7*7 }}"))
    assert rendered == "container {{ 7*7 }}"


def test_output_with_escape_attempt_prints_no_python_objects() -> None:
    """An output holding `{{ ''.__class__.__mro__ }}` prints exactly that text and no class."""
    rendered = render("{{ event.output }}", hostile_event("{{ ''.__class__.__mro__ }}"))
    assert rendered == "{{ ''.__class__.__mro__ }}"
    assert not any(leak in rendered for leak in LEAKS)


# control characters


def test_escape_sequence_is_stripped_of_its_escape_character() -> None:
    """An ANSI colour sequence loses its ESC: it can no longer colour a terminal."""
    rendered = render("{{ event.output }}", hostile_event("\x1b[31mred\x1b[0m"))
    assert rendered == "[31mred[0m"


def test_carriage_return_is_removed() -> None:
    """A carriage return, which can overwrite a log line, is removed."""
    rendered = render("{{ event.output }}", hostile_event("ok\rFORGED"))
    assert rendered == "okFORGED"


def test_nul_is_removed() -> None:
    """A NUL byte is removed."""
    assert render("{{ event.output }}", hostile_event("a\x00b")) == "ab"


@pytest.mark.parametrize("char", ["\x07", "\x08", "\x0b", "\x0c", "\x7f", "\x85", "\x9b"])
def test_other_control_characters_are_removed(char: str) -> None:
    """BEL, BS, VT, FF, DEL and C1 controls (NEL, CSI) are removed."""
    assert render("{{ event.output }}", hostile_event(f"a{char}b")) == "ab"


def test_tab_and_newline_are_kept() -> None:
    """Tab and newline are ordinary text and are kept."""
    assert render("{{ event.output }}", hostile_event("a\tb\nc")) == "a\tb\nc"


def test_controls_in_a_label_are_removed() -> None:
    """Control characters in a label value are removed too."""
    rendered = render("{{ event.labels.team }}", hostile_event("x\x1b[2J\r\x00y"))
    assert rendered == "x[2Jy"


def test_controls_in_a_field_are_removed() -> None:
    """Control characters in a field value are removed too."""
    rendered = render("{{ event.fields['proc.cmdline'] }}", hostile_event("x\x1b\ry"))
    assert rendered == "xy"


def test_controls_are_removed_after_a_filter() -> None:
    """A filter's result is cleaned as well: `upper` cannot smuggle a control through."""
    assert render("{{ event.output | upper }}", hostile_event("a\x1bb")) == "AB"


def test_controls_in_joined_tags_are_removed() -> None:
    """Tags joined by a filter are cleaned as one string."""
    assert render("{{ event.tags | join(',') }}", hostile_event("a\rb")) == "container,ab"


def test_operator_text_around_values_is_kept() -> None:
    """The operator's own text, newlines included, is kept around the inserted values."""
    rendered = render("rule: {{ event.name }}\nhost: {{ event.hostname }}\n", make_event())
    assert rendered == "rule: Terminal shell in container\nhost: node-1\n"


# very long values


def test_long_value_is_inserted_whole() -> None:
    """A 10 000-character output is inserted in full."""
    text = "A" * 10_000
    assert render("{{ event.output }}", hostile_event(text)) == text


def test_very_long_value_is_literal_and_capped() -> None:
    """A 1 MB output with template syntax is inserted as literal text, capped at 64 KiB."""
    text = "{{ 7*7 }}" * 120_000
    rendered = render("{{ event.output }}", hostile_event(text))
    assert 0 < len(rendered) <= LIMIT
    assert text.startswith(rendered)


# operator templates that try to escape the sandbox


@pytest.mark.parametrize(
    "template",
    [
        "{{ event.__class__ }}",
        "{{ event.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ event.output.__class__.__base__.__subclasses__() }}",
        "{{ event|attr('__class__') }}",
        "{{ 'x{0.__class__}'.format(event) }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ joiner.__init__.__globals__['os'] }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ range.__self__ }}",
        "{{ self.__init__.__globals__ }}",
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{{ c }}{% endfor %}",
    ],
)
def test_sandbox_escape_is_refused_or_empty(template: str) -> None:
    """An escape attempt raises SecurityError or renders nothing useful: no Python object shows."""
    rendered = render_or_refuse(template)
    assert not any(leak in rendered for leak in LEAKS), rendered


def test_dunder_attribute_renders_empty() -> None:
    """`{{ event.__class__ }}` renders as an empty undefined value."""
    assert render("[{{ event.__class__ }}]", make_event()) == "[]"


def test_subclasses_walk_raises_security_error() -> None:
    """Walking `''.__class__.__mro__` to the subclasses raises jinja2's SecurityError."""
    with pytest.raises(SecurityError):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", make_event())


def test_context_cannot_be_mutated() -> None:
    """The immutable sandbox refuses to change the context's dicts."""
    context = template_context(make_event(), WEB)
    with pytest.raises(SecurityError):
        Templates().render("{{ event.labels.update({'a': 'b'}) }}", context)
    assert context["event"]["labels"] == {}


def test_template_context_holds_only_plain_data() -> None:
    """The template context holds only strings, numbers, lists and dicts: no live objects."""

    def plain(value: Any) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, str | int | float | bool)

    event = make_event(fields={"n": 1, "list": [1, "a"], "none": None}, target=Target(id="abc"))
    assert plain(template_context(event, WEB))


# render_value and plain strings


def test_plain_string_passes_through_unchanged() -> None:
    """A string without template syntax comes back as is, even with controls in it."""
    text = "plain \x1b[31m text"
    assert Templates().render(text, template_context(make_event(), WEB)) == text


def test_is_template_recognises_each_marker() -> None:
    """`{{`, `{%` and `{#` each make a string a template; plain text does not."""
    assert is_template("{{ x }}")
    assert is_template("{% if x %}{% endif %}")
    assert is_template("{# note #}")
    assert not is_template("{ x }")


def test_render_value_renders_nested_lists_and_dicts() -> None:
    """`render_value` renders every string inside nested lists and mappings."""
    context = template_context(make_event(hostname="node-7"), WEB)
    value = {
        "channels": ["oncall", "{{ event.hostname }}"],
        "nested": {"deep": ["{{ container.name }}", {"x": "{{ event.priority }}"}]},
        "count": 3,
        "flag": True,
        "nothing": None,
    }
    assert Templates().render_value(value, context) == {
        "channels": ["oncall", "node-7"],
        "nested": {"deep": ["web-1", {"x": "Notice"}]},
        "count": 3,
        "flag": True,
        "nothing": None,
    }


def test_render_value_keeps_hostile_values_literal() -> None:
    """Hostile event text reached through `render_value` stays literal."""
    context = template_context(hostile_event("{{ 7*7 }}"), WEB)
    rendered = Templates().render_value({"m": ["{{ event.output }}"]}, context)
    assert rendered == {"m": ["{{ 7*7 }}"]}


def test_missing_value_renders_empty() -> None:
    """A name the event lacks renders as empty text, not an error."""
    assert render("[{{ event.labels.nope }}]", make_event()) == "[]"


def test_no_container_renders_empty() -> None:
    """Without a container, `container.name` renders as empty text."""
    assert render("[{{ container.name }}]", make_event(), None) == "[]"


# problems


def test_problems_empty_for_a_good_template() -> None:
    """A template that uses only known names has no problems."""
    text = "{% for t in event.tags %}{{ t }} {% endfor %}{{ target.ref }} {{ incident.id }}"
    assert Templates().problems(text) == []


def test_problems_reports_syntax_error() -> None:
    """A syntax error is reported with the template's line."""
    (problem,) = Templates().problems("ok\n{{ event.name ")
    assert problem.startswith("template syntax error: ")
    assert "(template line 2)" in problem


def test_problems_reports_unclosed_block() -> None:
    """An unclosed block is a syntax error."""
    (problem,) = Templates().problems("{% if event.name %}x")
    assert problem.startswith("template syntax error: ")


def test_problems_reports_unknown_names() -> None:
    """Unknown names are reported, sorted, with the names a template may use."""
    assert Templates().problems("{{ secrets }} {{ env.HOME }}") == [
        (
            "template refers to unknown env, secrets; "
            "known: container, event, incident, playbook, target"
        )
    ]


def test_problems_allows_names_set_in_the_template() -> None:
    """A loop variable or `set` name is not an unknown name."""
    assert Templates().problems("{% set h = event.hostname %}{{ h }}") == []


# through planning


def only_step(event: Event, playbooks: PlaybookSet, container: ContainerInfo | None) -> PlannedStep:
    """The plan of the one step of the one playbook that matches `event`."""
    plan = plan_event(
        event,
        playbooks=playbooks,
        actions=registry(),
        templates=Templates(),
        container=container,
        container_note="",
    )
    (playbook_plan,) = plan.plans
    (step,) = playbook_plan.steps
    return step


def test_plan_renders_hostile_output_literally(tmp_path: Path) -> None:
    """`plan_event` renders a step parameter from the event output as literal text."""
    playbooks = load_text(
        tmp_path,
        """
        name: page
        match: {source: falco}
        steps:
          - action: notify
            with:
              channels: [oncall]
              message: "Falco says: {{ event.output }}"
        """,
    )
    event = hostile_event("{{ 7*7 }} {% for x in range(3) %}x{% endfor %}\x1b[31m")
    step = only_step(event, playbooks, WEB)
    assert step.error is None
    assert step.params["message"] == (
        "Falco says: {{ 7*7 }} {% for x in range(3) %}x{% endfor %}[31m"
    )


def test_plan_reports_sandbox_refusal_as_step_error(tmp_path: Path) -> None:
    """A step whose template the sandbox refuses is planned with an error, not a crash."""
    playbooks = load_text(
        tmp_path,
        """
        name: page
        match: {}
        steps:
          - action: notify
            with:
              channels: [oncall]
              message: "{{ ''.__class__.__mro__[1].__subclasses__() }}"
        """,
    )
    step = only_step(make_event(), playbooks, None)
    assert step.error is not None
    assert "unsafe" in step.error


def test_plan_refuses_a_network_name_rendered_into_another_api_path(tmp_path: Path) -> None:
    """A quarantine network named from alert text cannot carry `/` into the engine's URL path."""
    playbooks = load_text(
        tmp_path,
        """
        name: isolate
        match: {source: falco}
        steps:
          - action: docker:isolate
            with:
              quarantine_network: "q-{{ event.output }}"
        """,
    )
    step = only_step(hostile_event("../../containers/web"), playbooks, WEB)
    assert step.error is not None
    assert "network name 'q-../../containers/web' holds '/'" in step.error
