"""The README as a front door (issue 16, item 5): short, and its playbook is one that works.

Its two commands are run elsewhere: .ci/run runs the test command, tests/test_quick_start.py
the walk from an alert to a released container.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from responder.cli import main

if TYPE_CHECKING:
    import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SHIPPED = ROOT / "playbooks" / "30-contain-shell-in-container.yaml"
MOST_BYTES = 8 * 1024


def _readme() -> str:
    """README.md as text."""
    return README.read_text(encoding="utf-8")


def _playbook() -> dict[str, Any]:
    """The README's one YAML block: its playbook."""
    blocks = re.findall(r"^```yaml\n(.*?)^```$", _readme(), flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1, blocks
    playbook: dict[str, Any] = yaml.safe_load(blocks[0])
    return playbook


def _shipped(name: str) -> dict[str, Any]:
    """The shipped playbook of this name."""
    documents = yaml.safe_load_all(SHIPPED.read_text(encoding="utf-8"))
    (playbook,) = (document for document in documents if document["name"] == name)
    return dict(playbook)


def _quick_start_alert() -> dict[str, Any]:
    """The body the README's quick start posts with curl."""
    found = re.search(r"curl [^']*-d '(.*?)'", _readme(), flags=re.DOTALL)
    assert found, "no curl -d '...' in README.md"
    body: dict[str, Any] = json.loads(found.group(1))
    return body


def test_readme_is_under_eight_kilobytes() -> None:
    """A newcomer reads it in two minutes: the rest lives in docs/."""
    size = len(README.read_bytes())
    assert size < MOST_BYTES, f"README.md is {size} bytes"


def test_readme_playbook_is_the_shipped_one_shortened() -> None:
    """Every key the README's playbook shows has the shipped playbook's value; same steps."""
    shown = _playbook()
    shipped = _shipped(shown["name"])
    for key in shown.keys() - {"match", "steps"}:
        assert shown[key] == shipped[key], key
    for key, value in shown["match"].items():
        assert value == shipped["match"][key], f"match.{key}"
    assert shown["steps"] == shipped["steps"]


def test_readme_playbook_contains_the_quick_start_container(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`responder test`: the quick start's alert about a production container runs every step."""
    for variable in ("RESPONDER_CONFIG", "RESPONDER_PLAYBOOKS", "RESPONDER_DATA_DIR"):
        monkeypatch.delenv(variable, raising=False)
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "readme.yaml").write_text(yaml.safe_dump(_playbook()), encoding="utf-8")
    case = {
        "name": "the README's walk",
        "event": _quick_start_alert(),
        "container": {"name": "web-1", "labels": {"environment": "production"}},
        "expect": [
            {
                "playbook": _playbook()["name"],
                "steps": ["docker:snapshot", "docker:isolate", "docker:pause", "notify"],
                "skipped": [],
            }
        ],
    }
    cases = tmp_path / "readme.test.yaml"
    cases.write_text(yaml.safe_dump({"tests": [case]}), encoding="utf-8")
    status = main(["test", str(cases), "--playbooks", str(playbooks)])
    output = capsys.readouterr().out
    assert status == 0, output
    assert output.strip().splitlines()[-1] == "1 passed, 0 failed"


def test_every_folder_the_glossary_names_exists() -> None:
    """The glossary's `responder/...` folders are folders of the package (a move updates it)."""
    text = README.read_text()
    named = set(re.findall(r"`(responder/[\w/]+/)`", text))
    assert named, "the glossary names no folder"
    missing = sorted(name for name in named if not (ROOT / name).is_dir())
    assert not missing, missing
