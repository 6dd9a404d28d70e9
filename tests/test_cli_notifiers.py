"""`responder notifiers`: the channel kinds and their settings, then the configured channels."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from responder.cli._main import main
from responder.notifications.channels import CHANNEL_KINDS

if TYPE_CHECKING:
    from pathlib import Path

CONFIG = """\
channels:
  ops-slack:
    kind: slack
    webhook_url: {env: TEST_SLACK_URL}
    channel: "#security"
  pager:
    kind: pagerduty
    routing_key: {env: TEST_PD_KEY}
    min_priority: error
  mail:
    kind: email
    host: smtp.example.org
    sender: responder@example.org
    recipients: [oncall@example.org]
    username: alerts
    password: {file: /nonexistent/smtp_password}
"""


@pytest.fixture(autouse=True)
def _no_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the files these tests pass count."""
    monkeypatch.delenv("RESPONDER_CONFIG", raising=False)


def test_lists_every_kind_with_its_settings(capsys: pytest.CaptureFixture[str]) -> None:
    """Each channel kind appears, in order, with its fields, types, defaults and descriptions."""
    assert main(["notifiers", "--json"]) == 0
    kinds = json.loads(capsys.readouterr().out)["kinds"]
    assert [kind["kind"] for kind in kinds] == list(CHANNEL_KINDS)
    slack = {row["name"]: row for row in kinds[CHANNEL_KINDS.index("slack")]["settings"]}
    assert slack["webhook_url"] == {
        "name": "webhook_url",
        "type": "secret {env: VARIABLE} or {file: PATH}",
        "default": None,
        "required": True,
        "description": "the incoming webhook URL, by reference",
    }
    assert "kind" not in slack
    assert "timeout" not in slack


def test_settings_every_kind_has_are_listed_once(capsys: pytest.CaptureFixture[str]) -> None:
    """template, min_priority and timeout are listed apart, not repeated under each kind."""
    assert main(["notifiers", "--json"]) == 0
    common = json.loads(capsys.readouterr().out)["common"]
    assert [row["name"] for row in common] == ["template", "min_priority", "timeout"]
    assert common[2]["default"] == "10s"


def test_without_configuration_the_default_log_channel_is_listed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With no file, the one channel is `oncall`, writing to the log."""
    assert main(["notifiers", "--json"]) == 0
    channels = json.loads(capsys.readouterr().out)["channels"]
    assert channels == [
        {
            "name": "oncall",
            "kind": "log",
            "settings": {"logger": "responder.notify", "timeout": "10s"},
        }
    ]


def test_configured_channels_show_secrets_by_reference_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret shows where it is read from and whether it is readable, never its value."""
    config = tmp_path / "responder.yaml"
    config.write_text(CONFIG)
    monkeypatch.setenv("TEST_SLACK_URL", "https://hooks.slack.example/T0/B0/very-secret-token")
    monkeypatch.delenv("TEST_PD_KEY", raising=False)
    assert main(["notifiers", "--json", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "very-secret-token" not in out
    channels = {entry["name"]: entry for entry in json.loads(out)["channels"]}
    assert list(channels) == ["mail", "ops-slack", "pager"]
    assert channels["ops-slack"]["settings"]["webhook_url"] == (
        "environment variable TEST_SLACK_URL (set)"
    )
    assert (
        channels["pager"]["settings"]["routing_key"] == "environment variable TEST_PD_KEY (not set)"
    )
    assert channels["pager"]["settings"]["min_priority"] == "Error"
    assert channels["mail"]["settings"]["password"] == (
        "secret file /nonexistent/smtp_password (not set)"
    )


def test_text_output_for_people(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --json: the kinds with one line per setting, then each channel's settings."""
    config = tmp_path / "responder.yaml"
    config.write_text(CONFIG)
    monkeypatch.setenv("TEST_SLACK_URL", "https://hooks.slack.example/T0/B0/very-secret-token")
    assert main(["notifiers", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "    hmac_header: string (default 'X-Responder-Signature') header that carries" in out
    assert "log\n  Messages go to the responder's own log.\n    (no settings of its own)\n" in out
    assert "Every kind also takes:\n    template: string | null (default None)" in out
    assert (
        "ops-slack (slack)\n"
        "  webhook_url: environment variable TEST_SLACK_URL (set)\n"
        "  channel: #security\n"
        "  timeout: 10s\n"
    ) in out
    assert "very-secret-token" not in out


def test_a_bad_configuration_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A channel of an unknown kind stops the command with exit status 2."""
    config = tmp_path / "responder.yaml"
    config.write_text("channels:\n  x:\n    kind: carrier-pigeon\n")
    assert main(["notifiers", "--config", str(config)]) == 2
    assert "carrier-pigeon" in capsys.readouterr().err
