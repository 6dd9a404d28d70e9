"""`responder notifiers`: every channel kind and its settings, then each configured channel."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from responder.cli._common import emit_json, settings_from
from responder.notifications.channels import NOTIFIER_KINDS, build_notifiers, channel_models

if TYPE_CHECKING:
    import argparse

    from pydantic import BaseModel
    from pydantic.fields import FieldInfo

    from responder.cli._types import Subparsers

__all__ = ["register"]

_BY_REFERENCE = "secret {env: VARIABLE} or {file: PATH}"


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add `notifiers`."""
    parser = commands.add_parser(
        "notifiers",
        parents=[parent],
        help="list channel kinds, their settings, and the configured channels",
        description=__doc__,
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the kinds, then the channels of the configuration (secrets by reference only)."""
    settings = settings_from(args)
    models = channel_models()
    common = set.intersection(*(set(model.model_fields) for model in models.values()))
    listing: dict[str, list[dict[str, Any]]] = {
        "common": [row for row in settings_fields(models["log"]) if row["name"] in common],
        "kinds": [
            {
                "kind": kind,
                "summary": (models[kind].__doc__ or "").strip().splitlines()[0],
                "settings": [
                    row for row in settings_fields(models[kind]) if row["name"] not in common
                ],
            }
            for kind in NOTIFIER_KINDS
        ],
        "channels": [
            {"name": name, "kind": notifier.kind, "settings": notifier.describe()}
            for name, notifier in sorted(build_notifiers(settings.channels).items())
        ],
    }
    if args.json:
        emit_json(listing)
        return 0
    _print(listing)
    return 0


def _print(listing: dict[str, list[dict[str, Any]]]) -> None:
    """The listing for people."""
    out = sys.stdout
    out.write("Channel kinds:\n\n")
    for entry in listing["kinds"]:
        out.write(f"{entry['kind']}\n  {entry['summary']}\n")
        _print_fields(entry["settings"])
        if not entry["settings"]:
            out.write("    (no settings of its own)\n")
        out.write("\n")
    out.write("Every kind also takes:\n")
    _print_fields(listing["common"])
    out.write("\nConfigured channels:\n\n")
    for channel in listing["channels"]:
        out.write(f"{channel['name']} ({channel['kind']})\n")
        for name, value in channel["settings"].items():
            out.write(f"  {name}: {value}\n")
        out.write("\n")


def _print_fields(rows: list[dict[str, Any]]) -> None:
    """One line per setting: name, type, default or required, description."""
    for row in rows:
        default = "required" if row["required"] else f"default {row['default']!r}"
        sys.stdout.write(f"    {row['name']}: {row['type']} ({default}) {row['description']}\n")


def settings_fields(model: type[BaseModel]) -> list[dict[str, Any]]:
    """A channel model's fields as rows: name, type, default, required, description."""
    properties = model.model_json_schema(mode="serialization").get("properties", {})
    rows = []
    for name, field in model.model_fields.items():
        if name == "kind":  # the row's heading already says it
            continue
        prop = properties.get(name, {})
        rows.append(
            {
                "name": name,
                "type": _type_text(prop),
                "default": None if field.is_required() else _default(field, prop),
                "required": field.is_required(),
                "description": field.description or "",
            }
        )
    return rows


def _default(field: FieldInfo, prop: dict[str, Any]) -> Any:  # noqa: ANN401 - any JSON value
    """The default as the schema writes it (`10s`), or what the factory makes (`{}`)."""
    if "default" in prop:
        return prop["default"]
    return field.get_default(call_default_factory=True)


def _type_text(prop: dict[str, Any]) -> str:
    """A JSON schema property as a short type for people; secrets say how they are given."""
    if prop.get("$ref", "").endswith("/SecretRef"):
        return _BY_REFERENCE
    if "anyOf" in prop:
        return " | ".join(_type_text(p) for p in prop["anyOf"])
    if "enum" in prop:
        return " | ".join(repr(v) for v in prop["enum"])
    if prop.get("type") == "array":
        return f"list[{_type_text(prop.get('items', {}))}]"
    if isinstance(prop.get("additionalProperties"), dict):
        return f"map of {_type_text(prop['additionalProperties'])}"
    return str(prop.get("type", "any"))
