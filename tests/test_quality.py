"""The tools that hold the floor run with the suite: ruff (lint and format), mypy --strict, sizes."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_FUNCTION_LINES = 40
LONG_MARK = "# Long on purpose:"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    """Run a tool from this interpreter's environment at the project root."""
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_finds_nothing() -> None:
    """Every rule we enable passes; each ignore in the code says why."""
    result = run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_formatted() -> None:
    """`ruff format` would change nothing."""
    result = run("ruff", "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes() -> None:
    """The package, the tests and the benchmarks type-check under --strict."""
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def _says_why(lines: list[str], start: int) -> bool:
    """Whether the comment lines right above line `start` (1-based) hold `LONG_MARK`."""
    above = start - 2
    while above >= 0 and lines[above].lstrip().startswith("#"):
        if lines[above].lstrip().startswith(LONG_MARK):
            return True
        above -= 1
    return False


def test_a_function_over_40_lines_says_why() -> None:
    """Functions over 40 lines are the exception: each says why in a comment right above it."""
    unexplained = []
    for path in sorted((ROOT / "responder").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or start) - start + 1
            if length > MAX_FUNCTION_LINES and not _says_why(lines, start):
                unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length})")
    assert not unexplained, "\n".join(unexplained)
