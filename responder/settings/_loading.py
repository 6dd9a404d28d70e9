"""Reading settings: embedded defaults, then the config file, then `RESPONDER_*` variables, then flags."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from responder.errors import ConfigError
from responder.notifications.channels import CHANNEL_KINDS
from responder.settings._model import Settings
from responder.settings._yaml import Located, describe_problem, load_yaml_documents

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from pydantic_core import ErrorDetails

__all__ = ["ENVIRONMENT", "load_settings"]


# Each variable, the setting it fills, and (for flags) the argparse destination of the same name.
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "RESPONDER_HOST": ("server", "host"),
    "RESPONDER_PORT": ("server", "port"),
    "RESPONDER_INSECURE": ("server", "insecure"),
    "RESPONDER_MAX_BODY_BYTES": ("server", "max_body_bytes"),
    "RESPONDER_DATA_DIR": ("data_dir",),
    "RESPONDER_PLAYBOOKS": ("playbooks",),
    "RESPONDER_LOG_LEVEL": ("log_level",),
    "RESPONDER_TOKEN": ("auth", "token"),
    "RESPONDER_TOKEN_FILE": ("auth", "token_file"),
    "RESPONDER_TOKEN_HEADER": ("auth", "header"),
    "RESPONDER_READ_TOKEN": ("auth", "read_token"),
    "RESPONDER_READ_TOKEN_FILE": ("auth", "read_token_file"),
    "RESPONDER_ADMIN_TOKEN": ("auth", "admin_token"),
    "RESPONDER_ADMIN_TOKEN_FILE": ("auth", "admin_token_file"),
    "RESPONDER_TLS_CERT": ("tls", "cert"),
    "RESPONDER_TLS_KEY": ("tls", "key"),
    "RESPONDER_TLS_CLIENT_CA": ("tls", "client_ca"),
    "RESPONDER_DRY_RUN": ("incidents", "dry_run"),
    "RESPONDER_PUBLIC_URL": ("server", "public_url"),
    "DOCKER_HOST": ("docker", "url"),
}
# Tokens are never written in the configuration file: each comes from its variable or a file.
_FORBIDDEN_IN_FILE = {
    ("auth", "token"): "RESPONDER_TOKEN or auth.token_file",
    ("auth", "read_token"): "RESPONDER_READ_TOKEN or auth.read_token_file",
    ("auth", "admin_token"): "RESPONDER_ADMIN_TOKEN or auth.admin_token_file",
}


def _put(tree: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    for part in path[:-1]:
        tree = tree.setdefault(part, {})
        if not isinstance(tree, dict):
            raise ConfigError(f"{'.'.join(path)}: {part} must be a mapping")
    tree[path[-1]] = value


def _file_layer(config: Path | None) -> Located | None:
    if config is None:
        return None
    documents = load_yaml_documents(config)
    if not documents or documents[0].data is None:
        return None
    if len(documents) > 1 or not isinstance(documents[0].data, dict):
        raise ConfigError(f"{config}:1: the configuration must be one YAML mapping")
    doc = documents[0]
    for path, instead in _FORBIDDEN_IN_FILE.items():
        if path in doc.lines:
            raise ConfigError(
                f"{config}:{doc.line_of(path)}: {'.'.join(path)}: secrets do not belong in the "
                f"configuration file; use {instead} (a Docker secret)"
            )
    return doc


def load_settings(
    config: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Merge the layers; `overrides` are flag values keyed by variable name (None = not given)."""
    env = os.environ if environ is None else environ
    doc = _file_layer(config)
    tree: dict[str, Any] = dict(doc.data) if doc else {}
    origin: dict[tuple[str, ...], str] = {}
    layers = [(env, "environment variable"), (overrides or {}, "flag for")]
    for values, kind in layers:
        for name, path in ENVIRONMENT.items():
            value = values.get(name)
            if value is None or value == "":
                continue
            _put(tree, path, value)
            origin[path] = f"{kind} {name}"
    try:
        settings = Settings.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, doc, origin)) from exc
    settings._config_file = config  # noqa: SLF001 - set once, by the loader that read it
    return settings


def _describe(
    error: ValidationError, doc: Located | None, origin: dict[tuple[str, ...], str]
) -> str:
    lines = []
    for problem in map(_plain, error.errors(include_url=False)):
        loc = tuple(str(part) for part in problem["loc"])
        if loc in origin:
            lines.append(f"{origin[loc]}: {'.'.join(loc)}: {problem['msg']}")
        elif doc is not None:
            lines.append(describe_problem(problem, doc))
        else:
            lines.append(f"{'.'.join(loc) or 'settings'}: {problem['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _plain(problem: ErrorDetails) -> ErrorDetails:
    """The problem as the file spells it: no union tag (`webhook`), no `[key]`, no `Value error, `."""
    loc = problem["loc"]
    if len(loc) >= 3 and loc[0] == "channels" and loc[2] in CHANNEL_KINDS:  # noqa: PLR2004
        loc = (*loc[:2], *loc[3:])
    plain = problem.copy()
    plain["loc"] = tuple(part for part in loc if part != "[key]")
    plain["msg"] = plain["msg"].removeprefix("Value error, ")
    kinds = ", ".join(CHANNEL_KINDS)
    if problem["type"] == "union_tag_not_found" and loc[:1] == ("channels",):
        plain["msg"] = f"missing kind: one of {kinds}"
    elif problem["type"] == "union_tag_invalid" and loc[:1] == ("channels",):
        plain["loc"] = (*plain["loc"], "kind")
        plain["msg"] = f"unknown kind {problem.get('ctx', {}).get('tag')!r}: one of {kinds}"
    return plain
