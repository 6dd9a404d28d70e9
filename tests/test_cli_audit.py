"""`responder audit verify` and `responder audit show`: exit codes and what they print."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from responder.audit import AUDIT_FILE
from responder.audit._chain import GENESIS, seal
from responder.cli import main

if TYPE_CHECKING:
    from pathlib import Path

TIME = "2024-05-01T03:00:00.000000+00:00"
RECORDS: list[tuple[str, dict[str, str]]] = [
    ("event.accepted", {"event": "e1"}),
    ("incident.opened", {"incident": "inc-1", "playbook": "contain-shell"}),
    ("step.finished", {"incident": "inc-1", "action": "docker:pause", "status": "ok"}),
    ("incident.opened", {"incident": "inc-2", "playbook": "contain-shell"}),
    ("incident.released", {"incident": "inc-1"}),
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory holding an intact audit file of five records."""
    head, lines = GENESIS, []
    for seq, (kind, fields) in enumerate(RECORDS, start=1):
        line, head = seal(seq, TIME, kind, fields, head)
        lines.append(line)
    (tmp_path / AUDIT_FILE).write_text("".join(lines))
    return tmp_path


def hashes(data_dir: Path) -> list[str]:
    """The hash of every line, in order."""
    return [json.loads(line)["hash"] for line in (data_dir / AUDIT_FILE).read_text().splitlines()]


def test_verify_exits_0_when_intact(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An intact chain exits 0 and prints the line count, last seq and head hash."""
    assert main(["audit", "verify", "--data-dir", str(data_dir)]) == 0
    head = hashes(data_dir)[-1]
    assert capsys.readouterr().out == f"chain intact: 5 lines, last seq 5, head {head}\n"


def test_verify_exits_1_at_an_edited_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken chain exits 1 and prints FILE:LINE: the reason."""
    path = data_dir / AUDIT_FILE
    path.write_text(path.read_text().replace("docker:pause", "docker:stop"))
    assert main(["audit", "verify", "--file", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}:3: line 3 was edited: its content does not match its hash\n")
    assert f"up to seq 2 with hash {hashes(data_dir)[1]}" in out


def test_verify_exits_2_without_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No audit file is its own exit status and message, not a break."""
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"responder: no audit file at {tmp_path / AUDIT_FILE}\n"


def test_verify_json(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints the report for machines."""
    path = data_dir / AUDIT_FILE
    path.write_text("".join(path.read_text().splitlines(keepends=True)[1:]))
    assert main(["audit", "verify", "--file", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["intact"], report["lines"], report["head"]) == (False, 0, GENESIS)
    assert report["break"] == {
        "file": str(path),
        "line": 1,
        "reason": "line 1: the chain starts at seq 2, not 1: 1 line removed from the start",
    }


def test_expect_head_still_in_the_chain_exits_0(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A head noted earlier that is still a line of the grown chain passes."""
    noted = hashes(data_dir)[2]
    assert main(["audit", "verify", "--data-dir", str(data_dir), "--expect-head", noted]) == 0
    assert "the expected head is line 3; 2 lines follow it" in capsys.readouterr().out


def test_expect_head_missing_exits_1(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A noted head that is no longer in the chain means its tail was cut: exit 1."""
    path = data_dir / AUDIT_FILE
    noted = hashes(data_dir)[-1]
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:3]))
    assert main(["audit", "verify", "--file", str(path), "--expect-head", noted.upper()]) == 1
    out = capsys.readouterr().out
    assert f"the expected head {noted} is not in the chain: lines were removed" in out


def test_expect_head_must_be_a_hash(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mistyped --expect-head is a usage error, not a verdict on the chain."""
    assert main(["audit", "verify", "--data-dir", str(data_dir), "--expect-head", "abc"]) == 2
    assert "64-digit sha256" in capsys.readouterr().err


def test_verify_help_says_what_it_cannot_see(capsys: pytest.CaptureFixture[str]) -> None:
    """The help text warns that a cut tail needs --expect-head to be noticed."""
    with pytest.raises(SystemExit):
        main(["audit", "verify", "--help"])
    out = capsys.readouterr().out
    assert "cannot show lines cut off its end" in out
    assert "--expect-head" in out


def test_show_filters_by_kind_and_incident(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`show` prints the matching lines readably, newest last."""
    argv = ["audit", "show", "--data-dir", str(data_dir), "--kind", "incident.*"]
    assert main([*argv, "--incident", "inc-1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].split()[:3] == ["2", TIME[:23], "incident.opened"]
    assert "playbook='contain-shell'" in out[0]
    assert out[1].split()[2] == "incident.released"


def test_show_json_with_a_limit(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--limit keeps the last N lines; --json prints whole records."""
    assert main(["audit", "show", "--data-dir", str(data_dir), "--limit", "2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [record["seq"] for record in shown] == [4, 5]
