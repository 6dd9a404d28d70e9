"""Sandboxed templates for step parameters and messages; alert text is data, never a template."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

if TYPE_CHECKING:
    from collections.abc import Mapping

    from jinja2 import Template

__all__ = ["CONTEXT_NAMES", "Templates", "is_template", "strip_controls"]

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


def is_template(text: str) -> bool:
    """Whether a playbook string uses template syntax at all."""
    return any(marker in text for marker in _MARKERS)


def strip_controls(text: str) -> str:
    """`text` without control, line-separator and bidi characters (tab and newline stay)."""
    return _CONTROL.sub("", text)


def _finalize(value: Any) -> Any:  # noqa: ANN401 - whatever an expression yields
    """Every value inserted into output: controls removed, so alert text cannot forge lines."""
    if value is None:
        return ""
    return strip_controls(value) if isinstance(value, str) else value


class Templates:
    """One immutable sandbox: no attribute tricks, no mutation, no access to Python internals.

    Only templates written by the operator (playbooks, channel settings) are compiled. Event
    values enter as plain strings and numbers in the context and are inserted as text: a Falco
    output containing `{{ ... }}` is printed, not evaluated.
    """

    def __init__(self) -> None:
        self._env = ImmutableSandboxedEnvironment(
            autoescape=False,
            finalize=_finalize,
            keep_trailing_newline=True,
        )
        self._cache: dict[str, Template] = {}

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

    def render_value(self, value: Any, context: Mapping[str, Any]) -> Any:  # noqa: ANN401 - YAML data
        """Render every string inside lists and mappings."""
        if isinstance(value, str):
            return self.render(value, context)
        if isinstance(value, list):
            return [self.render_value(item, context) for item in value]
        if isinstance(value, dict):
            return {key: self.render_value(item, context) for key, item in value.items()}
        return value
