"""What every command shares: `--config`, `--data-dir`, settings loading, errors and output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from responder.settings import load_settings
from responder.text import escape_controls

if TYPE_CHECKING:
    from collections.abc import Sequence

    from responder.settings import Settings

__all__ = ["common_options", "emit_json", "print_table", "settings_from"]

# Flag destination -> the RESPONDER_* variable it overrides (a flag wins over the variable).
FLAG_VARIABLES = {
    "host": "RESPONDER_HOST",
    "port": "RESPONDER_PORT",
    "data_dir": "RESPONDER_DATA_DIR",
    "playbooks": "RESPONDER_PLAYBOOKS",
    "insecure": "RESPONDER_INSECURE",
    "log_level": "RESPONDER_LOG_LEVEL",
    "dry_run": "RESPONDER_DRY_RUN",
}


def common_options() -> argparse.ArgumentParser:
    """A parent parser with the options every command takes."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="YAML configuration file (env RESPONDER_CONFIG)",
    )
    parent.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="journal and evidence directory (env RESPONDER_DATA_DIR; default ./data)",
    )
    return parent


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the config file, the environment, then the flags that were given."""
    config = args.config
    if config is None and os.environ.get("RESPONDER_CONFIG"):
        config = Path(os.environ["RESPONDER_CONFIG"])
    overrides: dict[str, object] = {}
    for dest, variable in FLAG_VARIABLES.items():
        value = getattr(args, dest, None)
        if value is not None and value is not False:
            overrides[variable] = value
    return load_settings(config, overrides=overrides)


def emit_json(data: Any) -> None:  # noqa: ANN401 - any JSON document
    """Print one JSON document for machines."""
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def say(line: str) -> None:
    """Print one line for people; alert text in it stays on it (controls shown as escapes).

    Container names, rule names, outputs and daemon answers are written by the attacker: a line
    break or a terminal escape sequence in one would forge lines or rewrite the screen.
    """
    sys.stdout.write(escape_controls(line.removesuffix("\n")) + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns for people, every cell on one line (see `say`)."""
    rows = [[escape_controls(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for row in [headers, *rows]:
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        sys.stdout.write(line.rstrip() + "\n")
