"""Loading the project's own sender bodies from `tests/payloads/`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import JsonValue

PAYLOADS = Path(__file__).parent / "payloads"


def load_payload(relpath: str) -> dict[str, JsonValue]:
    """A fresh copy of `tests/payloads/<relpath>` as a JSON object, safe to change in a test."""
    body = json.loads((PAYLOADS / relpath).read_text(encoding="utf-8"))
    if not isinstance(body, dict):
        raise TypeError(f"{relpath} holds a {type(body).__name__}, not a JSON object")
    return body
