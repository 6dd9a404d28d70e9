"""Which container an event is about: Falco's container fields or configurable Alertmanager labels."""

from __future__ import annotations

from typing import TYPE_CHECKING

from responder.journal import Target

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic import JsonValue

    from responder.settings import TargetRules

__all__ = ["falco_target", "labels_target"]

# Falco prints these when it knows no container; `host` means the process runs on the host.
_NO_CONTAINER = frozenset({"", "host", "<NA>", "N/A"})
_ID_PREFIXES = ("docker://", "/docker/", "containerd://")


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text in _NO_CONTAINER:
        return None
    for prefix in _ID_PREFIXES:
        text = text.removeprefix(prefix)
    return text.lstrip("/") or None


def falco_target(fields: Mapping[str, JsonValue]) -> Target | None:
    """`container.id` / `container.name` from Falco output fields; `host` means no container."""
    raw_id = fields.get("container.id")
    if isinstance(raw_id, str) and raw_id.strip() == "host":
        return None
    container_id = _clean(raw_id)
    name = _clean(fields.get("container.name"))
    if container_id is None and name is None:
        return None
    return Target(id=container_id, name=name)


def labels_target(labels: Mapping[str, str], rules: TargetRules) -> Target | None:
    """The first configured id label and name label that carry a value."""
    container_id = next((v for k in rules.id_labels if (v := _clean(labels.get(k)))), None)
    name = next((v for k in rules.name_labels if (v := _clean(labels.get(k)))), None)
    if container_id is None and name is None:
        return None
    return Target(id=container_id, name=name)
