"""Every relative link in README.md, docs/ and rules/README.md reaches a file and a heading.

Issue 16, item 5: the README became a short front door and its text moved into docs/, so a
link left pointing at the old place, or at a heading that was renamed, fails here. Anchors are
GitHub's: the heading lowercased, punctuation dropped, spaces made dashes, `-1`, `-2` for
repeats.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted(
    [ROOT / "README.md", ROOT / "rules" / "README.md", *(ROOT / "docs").glob("*.md")]
)
FENCE = re.compile(r"^```.*?^```[ \t]*$", flags=re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", flags=re.MULTILINE)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", flags=re.IGNORECASE)


def _prose(text: str) -> str:
    """The text without fenced blocks, whose `#` lines are comments and not headings."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: code and link text kept, punctuation dropped, dashes."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor the headings of a Markdown file give, repeats numbered as GitHub does."""
    seen: Counter[str] = Counter()
    found = set()
    for heading in HEADING.findall(_prose(path.read_text(encoding="utf-8"))):
        base = slug(heading)
        found.add(f"{base}-{seen[base]}" if seen[base] else base)
        seen[base] += 1
    return found


def broken_links(path: Path) -> list[str]:
    """The relative links of a Markdown file that name no file, or no heading in it."""
    broken = []
    for target in LINK.findall(CODE_SPAN.sub("", _prose(path.read_text(encoding="utf-8")))):
        if SCHEME.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    return broken


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    """Each link without a scheme names an existing file and, with `#`, one of its headings."""
    assert broken_links(document) == [], document.relative_to(ROOT)


def test_anchors_are_spelled_as_github_spells_them() -> None:
    """Code spans keep their text, punctuation goes, spaces become dashes, case is lowered."""
    assert slug("Order and `final`") == "order-and-final"
    assert slug("Calls that stay off, and how to allow them") == (
        "calls-that-stay-off-and-how-to-allow-them"
    )
    assert slug("Playbook tests: `responder test`") == "playbook-tests-responder-test"


def test_a_link_to_a_missing_heading_or_file_is_reported(tmp_path: Path) -> None:
    """The check finds what it is for: a renamed heading, a moved file; code is not read."""
    (tmp_path / "other.md").write_text("# Other\n\n## Kept\n\n## Kept\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n[ok](other.md#kept-1) [self](#page) [gone](other.md#renamed)\n"
        "[moved](old.md) [web](https://example.com/x.md) `[code](nowhere.md)`\n\n"
        "```md\n[fenced](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "other.md#renamed: no heading #renamed in other.md",
        "old.md: no such file",
    ]
