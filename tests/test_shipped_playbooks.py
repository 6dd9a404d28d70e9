"""The shipped playbooks (playbooks/*.yaml) and their `responder test` cases (playbooks/tests/).

They must load with the built-in defaults, pass their own cases, cover every detection rule and
alert shipped in rules/ and the Falco default rules that issue 3 names, and say why at the top.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from responder.actions import ActionRegistry, default_actions
from responder.cli import main
from responder.engine import ContainerInfo
from responder.intake.bodies import events_from_body
from responder.playbooks import PlaybookSet, load_playbooks, match_event
from responder.settings import TargetRules

if TYPE_CHECKING:
    from pydantic import JsonValue

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = ROOT / "playbooks"
CASES = PLAYBOOKS / "tests"
FALCO_RULES = ROOT / "rules" / "falco" / "responder_rules.yaml"
PROMETHEUS_ALERTS = ROOT / "rules" / "prometheus" / "responder_alerts.yml"

# Issue 3, item 7: Falco default container rules the shipped playbooks must cover, with the
# priority each has in Falco's falco_rules.yaml (stable maturity).
FALCO_DEFAULT_RULES = {
    "Terminal shell in container": "Notice",
    "Drop and execute new binary in container": "Critical",
    "Detect release_agent File Container Escapes": "Critical",
    "Fileless execution via memfd_create": "Critical",
    "Netcat Remote Code Execution in Container": "Warning",
    "Redirect STDOUT/STDIN to Network Connection in Container": "Notice",
    "Read sensitive file untrusted": "Warning",
    "PTRACE attached to process": "Warning",
    "Packet socket created in container": "Notice",
    "Execution from /dev/shm": "Warning",
}

# What the engine would say about the container an event names: a plain workload, no labels.
LIVE = ContainerInfo("0123456789ab", "app-1", "registry.internal/app:1.0")

WRONG_CASE = """\
tests:
  - name: a shell in an unlabelled container, expected (wrongly) to be fully contained
    event:
      rule: Terminal shell in container
      priority: Notice
      output: "A shell was spawned in a container with an attached terminal"
      output_fields: {container.id: "0123456789ab", container.name: app-1}
    expect:
      - playbook: snapshot-shell-in-container
        steps: [docker:snapshot, docker:isolate, docker:pause, notify]
"""


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@cache
def _shipped() -> PlaybookSet:
    return load_playbooks([PLAYBOOKS], ActionRegistry(default_actions()))


def _falco_rules() -> dict[str, str]:
    """Rule name to priority, for every rule in the shipped Falco rules file."""
    items = _yaml(FALCO_RULES)
    return {item["rule"]: item["priority"] for item in items if "rule" in item}


def _prometheus_alerts() -> dict[str, str]:
    """Alert name to its `severity` label, for every alert in the shipped alerting rules."""
    groups = _yaml(PROMETHEUS_ALERTS)["groups"]
    return {
        rule["alert"]: rule["labels"]["severity"]
        for group in groups
        for rule in group["rules"]
        if "alert" in rule
    }


def _case_count() -> int:
    files = sorted(CASES.glob("*.test.yaml"))
    return sum(len(_yaml(path)["tests"]) for path in files)


def _matching(body: dict[str, JsonValue]) -> list[str]:
    """Names of the shipped playbooks that match every event of a sender body."""
    events = events_from_body(body, datetime.now(UTC), TargetRules())
    return [
        verdict.playbook.name
        for event in events
        for verdict in match_event(event, _shipped(), LIVE)
        if verdict.matched
    ]


def _falco_body(rule: str, priority: str) -> dict[str, JsonValue]:
    return {
        "rule": rule,
        "priority": priority,
        "source": "syscall",
        "hostname": "docker-host-1",
        "time": "2025-03-02T12:00:00.000000000Z",
        "output": f"{rule} (container_id=0123456789ab container_name=app-1)",
        "tags": ["container"],
        "output_fields": {"container.id": "0123456789ab", "container.name": "app-1"},
    }


def _alertmanager_body(alertname: str, severity: str) -> dict[str, JsonValue]:
    labels: dict[str, JsonValue] = {
        "alertname": alertname,
        "container": "app-1",
        "instance": "docker-host-1:8080",
        "severity": severity,
    }
    return {
        "version": "4",
        "status": "firing",
        "receiver": "responder",
        "groupLabels": {"alertname": alertname},
        "commonLabels": labels,
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": f"{alertname} on app-1"},
                "startsAt": "2025-03-02T12:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
            }
        ],
    }


@pytest.fixture
def defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built-in defaults only: run from the checkout with no RESPONDER_* variables."""
    for variable in ("RESPONDER_CONFIG", "RESPONDER_PLAYBOOKS", "RESPONDER_DATA_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(ROOT)


@pytest.mark.usefixtures("defaults")
def test_check_passes_on_the_shipped_playbooks(capsys: pytest.CaptureFixture[str]) -> None:
    """`responder check` with the default config loads ./playbooks and exits 0 with a summary."""
    status = main(["check"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert captured.out.startswith(f"ok: {len(_shipped().playbooks)} playbooks in ")


@pytest.mark.usefixtures("defaults")
def test_every_playbook_case_passes(capsys: pytest.CaptureFixture[str]) -> None:
    """`responder test playbooks/tests` exits 0 and reports every case passed."""
    status = main(["test", str(CASES)])
    output = capsys.readouterr().out
    assert status == 0, output
    assert output.strip().splitlines()[-1] == f"{_case_count()} passed, 0 failed"


@pytest.mark.parametrize(("rule", "priority"), sorted(_falco_rules().items()))
def test_every_shipped_falco_rule_has_a_playbook(rule: str, priority: str) -> None:
    """A rule from rules/falco/responder_rules.yaml, at its own priority, matches a playbook."""
    assert _matching(_falco_body(rule, priority)), f"no playbook matches {rule!r} at {priority}"


@pytest.mark.parametrize(("alert", "severity"), sorted(_prometheus_alerts().items()))
def test_every_shipped_alert_has_a_playbook(alert: str, severity: str) -> None:
    """A firing alert from rules/prometheus/responder_alerts.yml matches a playbook."""
    assert _matching(_alertmanager_body(alert, severity)), f"no playbook matches {alert!r}"


@pytest.mark.parametrize(("rule", "priority"), sorted(FALCO_DEFAULT_RULES.items()))
def test_every_falco_default_rule_from_the_issue_has_a_playbook(rule: str, priority: str) -> None:
    """A Falco default rule named in issue 3, at its real priority, matches a playbook."""
    assert _matching(_falco_body(rule, priority)), f"no playbook matches {rule!r} at {priority}"


@pytest.mark.parametrize("path", sorted(PLAYBOOKS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_playbook_file_opens_with_why(path: Path) -> None:
    """A shipped playbook file starts with non-empty comment lines, before any key, saying why."""
    head: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        head.append(line.lstrip("#").strip())
    assert head, f"{path.name} does not start with a comment"
    assert all(head), f"{path.name}: its opening comment has an empty line"
    assert re.search(r"\bwhy\b", " ".join(head), re.IGNORECASE), f"{path.name} does not say why"


@pytest.mark.usefixtures("defaults")
def test_a_wrong_expectation_fails_showing_expected_and_actual(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A case expecting the wrong steps makes `responder test` exit 1 with expected vs got."""
    case = tmp_path / "wrong.test.yaml"
    case.write_text(WRONG_CASE, encoding="utf-8")
    status = main(["test", str(case), "--playbooks", str(PLAYBOOKS)])
    output = capsys.readouterr().out
    assert status == 1
    assert f"FAIL {case}:2: a shell in an unlabelled container" in output
    assert (
        "snapshot-shell-in-container steps: "
        "expected ['docker:snapshot', 'docker:isolate', 'docker:pause', 'notify'], "
        "got ['docker:snapshot', 'notify']"
    ) in output
    assert output.strip().splitlines()[-1] == "0 passed, 1 failed"
