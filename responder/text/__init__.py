"""Alert text: sandboxed templates that insert it as data, and the escapes that keep it inert."""

from responder.text._inert import LINE_BREAK, defang, escape_controls, inert, quote_block
from responder.text._templates import (
    BLOCK_LIMIT,
    CONTEXT_NAMES,
    VALUE_LIMIT,
    Quoted,
    Templates,
    is_template,
    quoted,
    strip_controls,
)

__all__ = [
    "BLOCK_LIMIT",
    "CONTEXT_NAMES",
    "LINE_BREAK",
    "VALUE_LIMIT",
    "Quoted",
    "Templates",
    "defang",
    "escape_controls",
    "inert",
    "is_template",
    "quote_block",
    "quoted",
    "strip_controls",
]
