"""The one immutable `Event` every source is normalised into, and its ordered priority scale."""

from __future__ import annotations

import base64
import enum
import os
import random
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, JsonValue, PlainSerializer

__all__ = [
    "Event",
    "Priority",
    "PriorityName",
    "Source",
    "Status",
    "Target",
    "coerce_priority",
    "new_event_id",
]

Source = Literal["falco", "alertmanager"]
Status = Literal["firing", "resolved"]


class Priority(enum.IntEnum):
    """Falco's eight levels, lowest first, so that `>=` compares severity."""

    DEBUG = 0
    INFORMATIONAL = 1
    NOTICE = 2
    WARNING = 3
    ERROR = 4
    CRITICAL = 5
    ALERT = 6
    EMERGENCY = 7

    @classmethod
    def parse(cls, text: str) -> Priority:
        """Read a level in any case, with the aliases senders use (`Info`, `warn`, `crit`...)."""
        key = text.strip().lower()
        try:
            return _ALIASES[key]
        except KeyError:
            known = ", ".join(p.label for p in reversed(cls))
            raise ValueError(f"unknown priority {text[:64]!r}; expected one of {known}") from None

    @property
    def label(self) -> str:
        """The level as Falco spells it (`Warning`, `Informational`)."""
        return self.name.capitalize()


_ALIASES: dict[str, Priority] = {p.name.lower(): p for p in Priority} | {
    "info": Priority.INFORMATIONAL,
    "warn": Priority.WARNING,
    "err": Priority.ERROR,
    "crit": Priority.CRITICAL,
    "emerg": Priority.EMERGENCY,
}


def coerce_priority(value: Any) -> Priority:  # noqa: ANN401 - validators see raw JSON or YAML
    """A level name in any case (`Warning`, `info`) as a Priority; other types are refused."""
    if isinstance(value, Priority):
        return value
    if not isinstance(value, str):
        raise ValueError("a priority is a Falco level name such as Warning or Critical")  # noqa: TRY004 - pydantic wants ValueError
    return Priority.parse(value)


PriorityName = Annotated[Priority, BeforeValidator(coerce_priority)]
"""A Priority field that accepts level names as senders and people write them."""


def _stored_priority(value: Any) -> Priority:  # noqa: ANN401 - JSON from the journal
    # Journals written before priorities were stored by name hold the number.
    if isinstance(value, int) and not isinstance(value, bool):
        return Priority(value)
    return coerce_priority(value)


StoredPriority = Annotated[
    Priority,
    BeforeValidator(_stored_priority),
    PlainSerializer(lambda p: p.label, return_type=str, when_used="json"),
]
"""The event's priority: written as its name (`Notice`), so JSON, reports and people agree."""


class Target(BaseModel):
    """The container an event is about, as far as the event itself says."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = None
    name: str | None = None

    @property
    def ref(self) -> str:
        """What to hand the Docker API: the id when known, else the name."""
        return self.id or self.name or ""


class Event(BaseModel):
    """One alert from one source, after parsing; nothing past intake looks at raw bodies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    key: str
    """Identity of the alert at its source; a re-send carries the same key and is journaled once."""
    source: Source
    name: str
    """Falco rule or Alertmanager `alertname`."""
    priority: StoredPriority
    status: Status
    time: datetime
    received_at: datetime
    hostname: str | None = None
    event_source: str | None = None
    """Falco's own event source (`syscall`, `k8s_audit`, ...), when it says."""
    tags: tuple[str, ...] = ()
    labels: Mapping[str, str] = {}
    annotations: Mapping[str, str] = {}
    fields: Mapping[str, JsonValue] = {}
    """Falco `output_fields`, values kept with their JSON types."""
    output: str = ""
    """Falco's output line or the Alertmanager summary: the text a person reads."""
    target: Target | None = None
    """The container to act on; None when the event is about the host or names no container."""
    raw: Mapping[str, JsonValue] = {}


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# base64's base32 alphabet, value for value, onto Crockford's: the 80 random bits of a ULID
# are exactly 16 base32 digits, so the standard library encodes them in C.
_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _CROCKFORD.encode())
# Ids need to be unique and sortable, not secret: a generator seeded once from the OS is
# ten times cheaper than a system call per id, and the journal refuses a duplicate id anyway.
_random = random.Random(os.urandom(32))  # noqa: S311 - uniqueness, not secrecy
_time_part: tuple[int, str] = (-1, "")


def new_event_id() -> str:
    """A ULID: 48 bits of milliseconds (10 digits) then 80 random bits (16 digits), so ids sort by arrival."""
    global _time_part  # noqa: PLW0603 - a one-entry cache of the millisecond prefix
    millis = time.time_ns() // 1_000_000
    if _time_part[0] != millis:
        value, digits = millis, []
        for _ in range(10):
            value, digit = divmod(value, 32)
            digits.append(_CROCKFORD[digit])
        _time_part = (millis, "".join(reversed(digits)))
    randomness = base64.b32encode(_random.getrandbits(80).to_bytes(10, "big"))
    return _time_part[1] + randomness.translate(_TO_CROCKFORD).decode()
