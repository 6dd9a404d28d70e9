"""The architecture is checked, not hoped for: import-linter's contracts hold, the root stays small.

The contracts live in pyproject.toml (`[tool.importlinter]`) and docs/architecture.md draws
them: the layers, no import cycle between siblings at any depth, actions free of HTTP and the
command line, and the service never importing its test doubles. A change that breaks one fails
here, with the offending import named in the output.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "responder"
MAX_ROOT_MODULES = 8


def test_import_contracts_are_kept() -> None:
    """`lint-imports` with the project's contracts exits 0 (the output names any broken import).

    In a process of its own: import-linter configures logging, which would silence the loggers
    of the tests that follow.
    """
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint), "--config", "pyproject.toml", "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout, done.stdout


def test_the_package_root_holds_only_the_entry_points_and_a_few_shared_modules() -> None:
    """At most eight modules at the root: every concept has a folder of its own."""
    modules = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(modules) <= MAX_ROOT_MODULES, modules


def test_the_architecture_map_names_every_folder() -> None:
    """docs/architecture.md has a paragraph for every package folder, and no folder it names is gone."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    folders = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    named = set(re.findall(r"^### `(\w+)/`", text, flags=re.MULTILINE))
    assert named == folders


def test_the_architecture_map_walks_modules_that_exist() -> None:
    """Every module path the walk of one event names (`responder/x/y.py`) is a file."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    paths = set(re.findall(r"`(responder/[\w/]+\.py)`", text))
    assert paths, "the walk names no module"
    missing = sorted(path for path in paths if not (ROOT / path).is_file())
    assert not missing, missing
