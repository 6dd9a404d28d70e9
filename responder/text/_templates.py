"""Sandboxed templates for step parameters and messages; alert text is data, never a template."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateSyntaxError, meta, pass_context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from responder.text._inert import inert, quote_block

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from jinja2 import Template
    from jinja2.runtime import Context

__all__ = [
    "BLOCK_LIMIT",
    "CONTEXT_NAMES",
    "VALUE_LIMIT",
    "Quoted",
    "Templates",
    "is_template",
    "quoted",
    "strip_controls",
]

CONTEXT_NAMES = frozenset({"event", "target", "container", "playbook", "incident"})
"""What a template may refer to; anything else is an error at load."""

_MARKERS = ("{{", "{%", "{#")
# C0 controls except tab and newline, DEL, C1 controls, Unicode line separators and bidi
# controls: never useful in a parameter or a message, and able to forge or hide lines in logs,
# terminals, chat and mail.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_MAX_OUTPUT = 64 * 1024
VALUE_LIMIT = 1000
"""Characters a message prints of one alert value: one long value cannot push ours out of it."""
BLOCK_LIMIT = 8000
"""Characters a message prints of one quoted block."""
_OURS = "_ours"
"""Where a message's render finds the values the responder wrote itself (no template can name it:
`problems` refuses every name outside CONTEXT_NAMES)."""


def is_template(text: str) -> bool:
    """Whether a playbook string uses template syntax at all."""
    return any(marker in text for marker in _MARKERS)


def strip_controls(text: str) -> str:
    """`text` without control, line-separator and bidi characters (tab and newline stay)."""
    return _CONTROL.sub("", text)


@dataclass(frozen=True)
class Quoted:
    """Alert text as a quoted block, made only by the `quoted` filter; it prints as its lines.

    Not a string: whatever a template does to it (`~`, `.upper()`, `.format()`) yields a plain
    string again, which a message prints as one inert line.
    """

    _block: str

    def __str__(self) -> str:
        return self._block


def quoted(value: Any) -> Quoted:  # noqa: ANN401 - any template value
    """The `quoted` filter: `value` as a block of lines, each inert and after `> `."""
    return Quoted(quote_block("" if value is None else str(value), limit=BLOCK_LIMIT))


def _finalize(value: Any) -> Any:  # noqa: ANN401 - whatever an expression yields
    """Every value inserted into a parameter: controls removed (tab and newline stay)."""
    if value is None:
        return ""
    return strip_controls(value) if isinstance(value, str) else value


@pass_context
def _finalize_message(context: Context, value: Any) -> str:  # noqa: ANN401 - any value
    """Every value inserted into a message: one inert line, so it cannot pass for one of ours.

    A `quoted` block prints as its lines; a value the responder wrote itself (the report's URL,
    the release command) prints as it is, so that it still works.
    """
    if value is None:
        return ""
    if isinstance(value, Quoted):
        return str(value)
    text = value if isinstance(value, str) else str(value)
    if text in context.get(_OURS, ()):
        return strip_controls(text)
    return inert(text, VALUE_LIMIT)


def _sandbox(finalize: Callable[..., Any]) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        autoescape=False, finalize=finalize, keep_trailing_newline=True
    )
    env.filters["quoted"] = quoted
    return env


class Templates:
    """One immutable sandbox: no attribute tricks, no mutation, no access to Python internals.

    Only templates written by the operator (playbooks, channel settings) are compiled. Event
    values enter as plain strings and numbers in the context and are inserted as text: a Falco
    output containing `{{ ... }}` is printed, not evaluated.
    """

    def __init__(self) -> None:
        self._env = _sandbox(_finalize)
        self._message_env = _sandbox(_finalize_message)
        self._cache: dict[str, Template] = {}
        self._message_cache: dict[str, Template] = {}

    def problems(self, text: str) -> list[str]:
        """Syntax errors and unknown names in a template, as messages (empty if fine)."""
        try:
            tree = self._env.parse(text)
            names = meta.find_undeclared_variables(tree)
        except TemplateSyntaxError as exc:
            return [f"template syntax error: {exc.message} (template line {exc.lineno})"]
        except RecursionError:  # Jinja parses recursively: `{{ ((((...` a few hundred deep
            return ["template nested too deeply to read"]
        unknown = sorted(names - CONTEXT_NAMES)
        if unknown:
            known = ", ".join(sorted(CONTEXT_NAMES))
            return [f"template refers to unknown {', '.join(unknown)}; known: {known}"]
        return []

    def render(self, text: str, context: Mapping[str, Any]) -> str:
        """Render one template; plain strings come back unchanged."""
        if not is_template(text):
            return text
        template = self._cache.get(text)
        if template is None:
            template = self._cache[text] = self._env.from_string(text)
        rendered = template.render(context)
        return rendered[:_MAX_OUTPUT]

    def render_message(self, text: str, context: Mapping[str, Any], ours: Iterable[str]) -> str:
        """Render a message template: every value it prints is one inert line.

        Links are defanged and controls shown as escapes; a `quoted` value is a block of such
        lines; the values in `ours`, which the responder wrote itself, print as they are.
        """
        template = self._message_cache.get(text)
        if template is None:
            template = self._message_cache[text] = self._message_env.from_string(text)
        rendered = template.render({**context, _OURS: frozenset(ours)})
        return rendered[:_MAX_OUTPUT]

    def render_value(self, value: Any, context: Mapping[str, Any]) -> Any:  # noqa: ANN401 - YAML data
        """Render every string inside lists and mappings."""
        if isinstance(value, str):
            return self.render(value, context)
        if isinstance(value, list):
            return [self.render_value(item, context) for item in value]
        if isinstance(value, dict):
            return {key: self.render_value(item, context) for key, item in value.items()}
        return value
