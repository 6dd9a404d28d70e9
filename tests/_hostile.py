"""Hypothesis strategies for hostile input: alert text, JSON values, numbers and YAML, all shared.

The hostile suites (`test_hostile_*.py`) draw from these. Text mixes the pieces that break
renderers and parsers (template syntax, controls, bidi overrides, HTML, Markdown fences and
pipes, NULs) with arbitrary Unicode and very long runs.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = [
    "FULL_EXAMPLES",
    "HIDDEN",
    "HOSTILE_PIECES",
    "JSON_KEYS",
    "LINE_BREAKS",
    "MARKUP",
    "apply",
    "canonical",
    "contains_lone_surrogate",
    "examples",
    "hostile_settings",
    "hostile_text",
    "json_scalars",
    "json_values",
    "mutations",
    "nonempty_hostile_text",
    "wrong_values",
]

FULL_EXAMPLES = 200
"""`max_examples` of the `ci` profile (tests/conftest.py): the scale at which every count is full."""
MIN_EXAMPLES = 10
"""The fewest examples a property runs under any profile."""

HOSTILE_PIECES = (
    "{{ 7*7 }}",
    "{{7*'7'}}",
    "{% for i in range(99999999) %}x{% endfor %}",
    "{# hidden #}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ event.output }}",
    "{% raw %}",
    "${jndi:ldap://x/a}",
    "%s%n%x",
    "</script><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<!--",
    "]]>",
    "&amp;&lt;",
    '"',
    "'",
    "\\",
    "`",
    "``",
    "```",
    "````sh",
    "~~~",
    "|",
    "| a | b |",
    "|---|",
    "# heading",
    "- [ ] task",
    "[link](javascript:alert(1))",
    "**bold**",
    "\x00",
    "\x07",
    "\x1b[2J\x1b[31m",
    "\x7f",
    "\x85",
    "\x9b",
    "\r",
    "\n",
    "\r\n",
    "\t",
    "\x0b\x0c",
    "\u2028",
    "\u2029",
    "\u202e",
    "\u2066",
    "\u200f",
    "\ufeff",
    "\ufffd",
    "\U0001f4a3",
    "e\u0301",
    " ",
)
"""Fragments that have broken somebody's renderer, parser or terminal."""

LINE_BREAKS = (
    "\n",
    "\r",
    "\r\n",
    "\n\r",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
)
"""Every way to start a line: what str.splitlines() breaks on, in the orders senders write."""

HIDDEN = (
    "\x00",
    "\x07",
    "\x08",
    "\t",
    "\x1b[2J\x1b[31m",
    "\x7f",
    "\x9b",
    "\u061c",
    "\u200b",
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202e",
    "\u2060",
    "\u2066",
    "\u2069",
    "\ufeff",
)
"""Characters that move the cursor, ring, hide text or reorder it: shown as escapes, never kept."""

MARKUP = (
    "[text](https://evil.example/login)",
    "<https://evil.example/login|Open the report>",
    "<!channel> <!here> @here @channel <@U024BE7LH>",
    "*bold* _italic_ ~strike~ `code` ```block```",
    "**bold** __bold__ # heading",
    '<a href="https://evil.example">report</a>',
    "[x](javascript:alert(1)) javascript:alert(1)",
    "{{DATE(2017-02-14T06:08:00Z, SHORT)}}",
    "> quoted",
)
"""What chat, cards and mail render as markup, links or mentions, one attempt per string."""

JSON_KEYS = (
    "container.id",
    "container.name",
    "proc.aname[2]",
    "proc.aname[7]",
    "evt.time",
    "evt.arg.flags",
    "k8s.ns.name",
    "a.b[0].c",
    "",
    " ",
    "__proto__",
    "constructor",
    "$ref",
    "{{ 7*7 }}",
    "alerts",
    "labels",
)
"""Keys as senders write them: dots, brackets, empty, and ones that mean something elsewhere."""

_SURROGATE_ESCAPED = st.binary(min_size=1, max_size=8).map(
    lambda raw: raw.decode("utf-8", "surrogateescape")
)


def _repeat(piece: str, count: int) -> str:
    return piece * count


def hostile_text(*, max_pieces: int = 6, long_runs: bool = True) -> st.SearchStrategy[str]:
    """Alert text: hostile fragments, arbitrary Unicode (no surrogates) and long runs, joined."""
    atoms: list[st.SearchStrategy[str]] = [
        st.sampled_from(HOSTILE_PIECES),
        st.text(max_size=12),
        st.text(alphabet=st.characters(max_codepoint=0x20), max_size=4),
    ]
    if long_runs:
        atoms.append(
            st.builds(
                _repeat,
                st.sampled_from(["A", "`", "|", "{{", "\u202e", "\n", "é"]),
                st.integers(1_000, 4_000),
            )
        )
    return st.lists(st.one_of(atoms), max_size=max_pieces).map("".join)


def nonempty_hostile_text(*, max_size: int | None = None) -> st.SearchStrategy[str]:
    """Hostile text with at least one character (and at most `max_size`, when given)."""
    text = hostile_text().filter(bool)
    if max_size is not None:
        text = text.map(lambda value: value[:max_size])
    return text


_HUGE_INTS = (
    10**400,
    -(10**400),
    2**63,
    2**63 - 1,
    -(2**63) - 1,
    2**64,
    10**308,
    int(1.7976931348623157e308),
)
_ODD_FLOATS = (-0.0, 0.0, 1e308, -1e308, 1.7976931348623157e308, 5e-324, -5e-324, 1e-300)


def json_scalars(*, text: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Any]:
    """Every JSON scalar, with huge integers, extreme finite floats and hostile strings."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from(_HUGE_INTS),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(_ODD_FLOATS),
        text if text is not None else hostile_text(max_pieces=4, long_runs=False),
    )


def json_values(*, max_leaves: int = 16, surrogates: bool = False) -> st.SearchStrategy[Any]:
    """Arbitrary JSON documents; with `surrogates`, strings may hold lone surrogates too."""
    text = hostile_text(max_pieces=4, long_runs=False)
    keys = st.one_of(st.sampled_from(JSON_KEYS), st.text(max_size=10))
    if surrogates:
        text = st.one_of(text, _SURROGATE_ESCAPED)
        keys = st.one_of(keys, _SURROGATE_ESCAPED)
    return st.recursive(
        json_scalars(text=text),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(keys, children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def wrong_values() -> st.SearchStrategy[Any]:
    """What a field may be replaced by: null, any other type, or a nested structure."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from(_HUGE_INTS),
        st.floats(allow_nan=False, allow_infinity=False),
        hostile_text(max_pieces=3),
        st.lists(json_scalars(), max_size=3),
        st.dictionaries(st.sampled_from(JSON_KEYS), json_scalars(), max_size=3),
    )


_DELETE = object()


@st.composite
def mutations(
    draw: st.DrawFn,
    keys: tuple[str, ...],
    special: dict[str, st.SearchStrategy[Any]] | None = None,
) -> dict[str, Any]:
    """Some of `keys`, each mapped to a wrong value (or a `special` one) or removed."""
    chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys)))
    extra = special or {}
    return {
        key: draw(st.one_of(st.just(_DELETE), wrong_values(), extra.get(key, st.nothing())))
        for key in chosen
    }


def apply(body: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`body` with the changes drawn by `mutations` made."""
    changed = dict(body)
    for key, value in changes.items():
        if value is _DELETE:
            changed.pop(key, None)
        else:
            changed[key] = value
    return changed


def contains_lone_surrogate(value: Any) -> bool:
    """Whether any string (or key) in the JSON value holds a surrogate code point."""
    if isinstance(value, str):
        return any(0xD800 <= ord(char) <= 0xDFFF for char in value)
    if isinstance(value, list):
        return any(contains_lone_surrogate(item) for item in value)
    if isinstance(value, dict):
        return any(
            contains_lone_surrogate(k) or contains_lone_surrogate(v) for k, v in value.items()
        )
    return False


def canonical(value: Any) -> str:
    """Canonical JSON text, so values can be compared with their types (1 is not 1.0 or True)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=True)


def examples(full: int) -> int:
    """How many examples a test whose full count is `full` runs under the loaded profile.

    The profile's `max_examples` against `FULL_EXAMPLES` is the scale: the `ci` profile runs
    every test's full count, the quick `dev` one a tenth; never fewer than `MIN_EXAMPLES`.
    """
    scale = settings().max_examples / FULL_EXAMPLES  # a fresh one inherits the loaded profile
    return max(MIN_EXAMPLES, round(full * scale))


def hostile_settings(full: int) -> settings:
    """Deterministic settings: derandomized, no example database, no deadline, `full` scaled."""
    return settings(
        max_examples=examples(full),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )
