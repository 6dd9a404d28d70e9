"""How a notifier shows its channel's settings: every field that is set, secrets by reference only."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from responder.durations import format_duration
from responder.errors import ConfigError
from responder.journal import Priority
from responder.secrets import SecretRef

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic import BaseModel

__all__ = ["COMMON", "describe_channel", "secret_status"]

COMMON = frozenset({"template", "min_priority", "timeout"})
"""The settings every channel kind has (responder.notifications.channels._channel.ChannelSettings)."""


def secret_status(ref: SecretRef, environ: Mapping[str, str] | None) -> str:
    """Where a secret comes from and whether it can be read now, e.g. `environment variable X (set)`."""
    try:
        ref.resolve(environ)
    except ConfigError:
        return f"{ref} (not set)"
    return f"{ref} (set)"


def describe_channel(channel: BaseModel, environ: Mapping[str, str] | None) -> dict[str, str]:
    """Each field that is set, as text, the kind's own first; templates only as `custom`."""
    rows: dict[str, str] = {}
    for name, value in channel:
        if name == "kind" or value is None or value == {}:
            continue
        # A template can run to many lines: say that there is one, `responder check` shows it.
        rows[name] = "custom" if name == "template" else _text(value, environ)
    # The kind's own settings first: they are what tells two channels apart.
    return {k: v for k, v in rows.items() if k not in COMMON} | {
        k: v for k, v in rows.items() if k in COMMON
    }


def _text(value: object, environ: Mapping[str, str] | None) -> str:
    """One setting as text; the typed fields of the channel models are the only inputs."""
    if isinstance(value, SecretRef):
        return secret_status(value, environ)
    if isinstance(value, Priority):
        return value.label
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, dict):
        return ", ".join(f"{_text(k, environ)}: {_text(v, environ)}" for k, v in value.items())
    if isinstance(value, tuple | list):
        return ", ".join(_text(item, environ) for item in value)
    return str(value)
