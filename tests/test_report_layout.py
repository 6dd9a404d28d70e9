"""The report's layout: what a person reads first, raw data last and folded, tables that scroll.

Regression: the HTML report opened with two screens of raw JSON (the first event in full, the
playbook's source) before the timeline, and its tables were squeezed to the page's width, a
hash or a time broken one character per line. The structure is read with `html.parser`.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING

from _builders import make_event
from _reports import PLAYBOOK_SOURCE, incident, outbox_record

from responder.reports import build_report, render

if TYPE_CHECKING:
    from pathlib import Path

    from responder.reports import Report

FIRST = ["Summary", "Timeline", "Evidence"]
ORDER = [
    *FIRST,
    "Release",
    "Notifications",
    "Triggering events",
    "Playbook",
    "Checklist",
    "Raw data",
]
TIMELINE_CLASSES = ["n", "n", "n", "n", "n", "n", "text", "text", "text"]
"""#, action, status, started, duration, attempts on one line; detail, error, release wrap."""


class Element:
    """One element as parsed: its tag, attributes, parent, children and text."""

    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Element | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Element] = []
        self.text = ""

    @property
    def classes(self) -> set[str]:
        """The words of its `class` attribute."""
        return set((self.attrs.get("class") or "").split())

    def walk(self) -> list[Element]:
        """It and every element inside it, in document order."""
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found

    def inside(self, tag: str) -> Element | None:
        """The nearest enclosing element with this tag."""
        node = self.parent
        while node is not None and node.tag != tag:
            node = node.parent
        return node


_VOID = {"meta", "br", "hr", "img", "input", "link"}


class Tree(HTMLParser):
    """A small DOM: enough to ask where things are."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self._open = self.root
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open an element under the current one."""
        element = Element(tag, dict(attrs), self._open)
        self._open.children.append(element)
        if tag not in _VOID:
            self._open = element

    def handle_endtag(self, tag: str) -> None:
        """Close up to the element this tag ends."""
        node: Element | None = self._open
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self._open = node.parent

    def handle_data(self, data: str) -> None:
        """Text goes to the element it is in, and to each enclosing one."""
        node: Element | None = self._open
        while node is not None:
            node.text += data
            node = node.parent

    def all(self, tag: str) -> list[Element]:
        """Every element with this tag, in document order."""
        return [e for e in self.root.walk() if e.tag == tag]


def report(tmp_path: Path) -> Report:
    """A contained incident with evidence, a notification and its playbook source kept."""
    event = make_event(output="a shell in web")
    return build_report(
        incident(tmp_path, event),
        event,
        [outbox_record(1, "oncall")],
        playbook_source=PLAYBOOK_SOURCE,
        data_dir=tmp_path,
    )


def css_rules(tree: Tree) -> dict[str, str]:
    """The page's style sheet as selector -> declarations (one selector per key)."""
    [style] = tree.all("style")
    rules: dict[str, str] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", style.text):
        for selector in selectors.split(","):
            rules[selector.strip()] = rules.get(selector.strip(), "") + body
    return rules


def test_the_html_report_reads_summary_timeline_evidence_first_and_raw_data_last(
    tmp_path: Path,
) -> None:
    """The sections come in reading order; the raw data is the last one."""
    tree = Tree(render(report(tmp_path), "html"))
    assert [h.text.strip() for h in tree.all("h2")] == ORDER


def test_no_raw_json_comes_before_the_timeline(tmp_path: Path) -> None:
    """Nothing preformatted stands between the title and the timeline."""
    tree = Tree(render(report(tmp_path), "html"))
    elements = tree.root.walk()
    timeline = next(e for e in elements if e.tag == "h2" and e.text.strip() == "Timeline")
    assert not [e for e in elements[: elements.index(timeline)] if e.tag == "pre"]


def test_the_raw_data_is_folded_away_and_scrolls(tmp_path: Path) -> None:
    """The first event and the playbook source are each in a closed `<details>`, in a scroll box."""
    page = render(report(tmp_path), "html")
    tree = Tree(page)
    raw = [pre for pre in tree.all("pre") if "raw" in pre.classes]
    assert len(raw) == 2
    assert '"output": "a shell in web"' in raw[0].text
    assert '"name": "contain-shell"' in raw[1].text
    for pre in raw:
        details = pre.inside("details")
        assert details is not None
        assert "open" not in details.attrs
        summary = details.children[0]
        assert summary.tag == "summary"
        assert summary.text.strip()
    rules = css_rules(tree)
    assert "overflow: auto" in rules["pre.raw"]
    assert "max-height" in rules["pre.raw"]


def test_every_table_scrolls_sideways_instead_of_squeezing(tmp_path: Path) -> None:
    """Each table is alone in a `div.wide` that scrolls; no cell may break anywhere."""
    tree = Tree(render(report(tmp_path), "html"))
    tables = tree.all("table")
    assert len(tables) == 7  # summary, timeline, files, manifests, notifications, trigger, playbook
    for table in tables:
        assert table.parent is not None
        assert table.parent.tag == "div"
        assert table.parent.classes == {"wide"}
        assert table.parent.children == [table]
    rules = css_rules(tree)
    assert "overflow-x: auto" in rules[".wide"]
    assert "anywhere" not in rules["td"] + rules["th"] + rules["code"]


def test_short_columns_stay_on_one_line_and_prose_keeps_a_readable_width(tmp_path: Path) -> None:
    """Numbers, states, times and hashes never wrap; details wrap at words, at a minimum width."""
    tree = Tree(render(report(tmp_path), "html"))
    rules = css_rules(tree)
    assert "white-space: nowrap" in rules["td.n"]
    assert "min-width" in rules["td.text"]
    timeline = next(t for t in tree.all("table") if t.children and "Duration" in t.children[0].text)
    for row in timeline.children[1:]:
        kinds = [cell.classes - {"s-done", "s-failed"} for cell in row.children]
        assert kinds == [{kind} for kind in TIMELINE_CLASSES]
    # In the tables of many columns: a two-column table (label, value) has room for a hash.
    hashes = [
        cell
        for table in tree.all("table")
        if not any("k" in cell.classes for cell in table.walk())
        for cell in table.walk()
        if cell.tag == "td" and re.fullmatch(r"[0-9a-f]{64}", cell.text.strip())
    ]
    assert hashes
    assert all("n" in cell.classes for cell in hashes)


def test_the_markdown_report_keeps_the_same_order(tmp_path: Path) -> None:
    """Markdown (what `responder report` prints) has the same sections in the same order."""
    markdown = render(report(tmp_path), "md")
    headings = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == ORDER
    timeline = markdown.index("\n## Timeline\n")
    assert markdown.index("### The first event in full") > markdown.index("\n## Raw data\n")
    assert "```json" not in markdown[:timeline]
