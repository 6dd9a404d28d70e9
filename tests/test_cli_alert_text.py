"""Alert text printed by the command line stays on its line: no forged line, no terminal escape.

`responder incidents`, `incidents ID`, `events`, `plan` and `release` print container names,
rule names, reasons and daemon answers that the alert (or the attacker's container) chose. A line
break in one would print a line of its own (`  undo: ...`); an escape sequence would rewrite the
operator's terminal.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import pytest
from _builders import make_event
from _reports import incident, pause_step, seed

from responder.cli import main

if TYPE_CHECKING:
    from pathlib import Path

FORGED = "FORGED: responder release 01JZZZZZZZZZZZZZZZZZZZZZZZ"
BREAKS = ["\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c"]
ESCAPES = ["\x1b[2J\x1b[H", "\x1b]8;;https://evil.example\x07link\x1b]8;;\x07", "\x9b31m", "\x00"]


def _hostile(value: str) -> str:
    return f"web{value}{FORGED}"


def _check(out: str, value: str) -> None:
    """No line of the output starts with the forged text, and no control reached it raw."""
    for line in out.splitlines():
        assert not line.startswith(FORGED), out
    assert not any(char in out for char in "\x1b\x07\x00\x85\u2028\u2029\x0b\x0c\x9b\r"), out
    assert FORGED in out  # shown, on the line it belongs to
    del value


@pytest.mark.parametrize("value", BREAKS + ESCAPES)
def test_incidents_print_alert_text_on_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """The listing, one incident in full, and the events listing: every value on its line."""
    event = make_event(
        name=_hostile(value), hostname=_hostile(value), output=_hostile(value)
    ).model_copy(update={"target": None})
    record = incident(
        tmp_path,
        event,
        container_name=_hostile(value),
        event_name=_hostile(value),
        reason=_hostile(value),
        steps=(pause_step(detail=_hostile(value)),),
    )
    asyncio.run(seed(tmp_path, record, event))
    for command in (["incidents"], ["incidents", record.id], ["events"]):
        assert main([*command, "--data-dir", str(tmp_path)]) == 0
        _check(capsys.readouterr().out, value)


@pytest.mark.parametrize("value", BREAKS + ESCAPES)
def test_plan_prints_alert_text_on_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """`plan` shows the rule, host and container reference an alert gave on one line each."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "any.yaml").write_text(
        "name: any\nmatch: {source: falco}\nsteps:\n  - action: docker:pause\n"
    )
    body = {
        "rule": _hostile(value),
        "priority": "Notice",
        "output": "o",
        "hostname": _hostile(value),
        "output_fields": {"container.name": _hostile(value)},
    }
    event = tmp_path / "event.json"
    event.write_text(json.dumps(body))
    assert main(["plan", str(event), "--playbooks", str(playbooks)]) == 0
    _check(capsys.readouterr().out, value)
