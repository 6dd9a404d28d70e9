"""The command line: help, `events`, and `serve` refusing what it must refuse."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from responder.cli import main
from responder.cli._common import settings_from
from responder.cli._main import build_parser

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import ClientFactory


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` lists the commands."""
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "serve" in out
    assert "events" in out


def test_serve_refuses_public_address_without_credential(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --host 0.0.0.0` with no token exits 2 and says how to fix it."""
    monkeypatch.delenv("RESPONDER_TOKEN", raising=False)
    status = main(["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)])  # noqa: S104
    assert status == 2
    assert "--insecure" in capsys.readouterr().err


def test_serve_reports_a_bad_config_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A config typo stops `serve` with the file and line."""
    config = tmp_path / "r.yaml"
    config.write_text("sever:\n  port: 1\n")
    assert main(["serve", "--config", str(config)]) == 2
    assert f"{config}:1: sever: unknown field" in capsys.readouterr().err


def test_config_file_from_environment(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RESPONDER_CONFIG names the file when --config is not given."""
    config = tmp_path / "r.yaml"
    config.write_text("bogus: 1\n")
    monkeypatch.setenv("RESPONDER_CONFIG", str(config))
    assert main(["events", "--data-dir", str(tmp_path)]) == 2
    assert "bogus: unknown field" in capsys.readouterr().err


def test_events_without_journal_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Listing a data directory the server never used explains itself."""
    assert main(["events", "--data-dir", str(tmp_path)]) == 1
    assert "no journal" in capsys.readouterr().err


async def test_events_lists_what_the_server_journaled(
    make_client: ClientFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`responder events` reads the journal the server wrote, as a table and as JSON."""
    client = await make_client()
    body = {
        "rule": "Terminal shell in container",
        "priority": "Warning",
        "hostname": "node-9",
        "output_fields": {"container.id": "ab12cd34ef56", "container.name": "billing"},
    }
    await client.post("/v1/events/falco", json=body)
    data_dir = str(tmp_path / "data")
    assert main(["events", "--data-dir", data_dir]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:4] == ["SEQ", "RECEIVED", "ID", "SOURCE"]
    assert "billing" in table
    assert "node-9" in table
    assert main(["events", "--data-dir", data_dir, "--json", "--source", "falco"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["container"] == {"id": "ab12cd34ef56", "name": "billing"}
    assert row["priority"] == "Warning"


def test_console_script_runs_as_a_module() -> None:
    """`python -m responder --version` works from an installed package."""
    result = subprocess.run(
        [sys.executable, "-m", "responder", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("responder ")


def test_serve_refuses_to_start_with_a_bad_playbook(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A playbook naming an unconfigured channel stops start-up with file:line, never mid-incident."""
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "x.yaml").write_text(
        "name: x\nmatch: {}\nsteps:\n  - action: notify\n    with: {channels: [pager]}\n"
    )
    status = main(["serve", "--playbooks", str(playbooks), "--data-dir", str(tmp_path / "d")])
    assert status == 2
    assert "x.yaml:5: steps.0.with.channels.0: unknown channel 'pager'" in capsys.readouterr().err


def test_serve_dry_run_flag_makes_every_playbook_a_dry_run() -> None:
    """`serve --dry-run` sets the global dry-run, as RESPONDER_DRY_RUN does."""
    args = build_parser().parse_args(["serve", "--dry-run"])
    assert settings_from(args).incidents.dry_run is True
    plain = build_parser().parse_args(["serve"])
    assert settings_from(plain).incidents.dry_run is False
