"""The shipped Prometheus alerting rules: promtool validates them and runs their unit tests.

promtool comes with the Debian package `prometheus`. Without it these tests skip, unless CI
(or RESPONDER_REQUIRE_DOCKER) is set, when they fail: CI installs it (.ci/run).
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from _peers import require_binary

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules" / "prometheus" / "responder_alerts.yml"
RULE_TESTS = ROOT / "rules" / "prometheus" / "responder_alerts_test.yml"
SEVERITIES = frozenset({"critical", "warning", "info"})
CAMEL_CASE = re.compile(r"^(?:[A-Z][a-z0-9]+)+$")
ADDS_CONTAINER_LABEL = re.compile(
    r'label_replace\(.*"container",\s*"\$1",\s*"name",\s*"\(\.\+\)"', re.DOTALL
)


def _run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool at the project root; the assertions show its output when it fails."""
    return subprocess.run(
        [require_binary("promtool", package="prometheus"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@cache
def _alerts() -> tuple[dict[str, Any], ...]:
    loaded = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return tuple(rule for group in loaded["groups"] for rule in group["rules"] if "alert" in rule)


@cache
def _rule_tests() -> tuple[dict[str, Any], ...]:
    loaded = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    return tuple(case for test in loaded["tests"] for case in test.get("alert_rule_test", []))


def test_promtool_check_rules_passes() -> None:
    """`promtool check rules` accepts the alerting rules."""
    result = _run_promtool("check", "rules", str(RULES.relative_to(ROOT)))
    assert result.returncode == 0, f"promtool check rules failed:\n{result.stdout}{result.stderr}"


def test_promtool_unit_tests_pass() -> None:
    """`promtool test rules` passes every unit test of the alerting rules."""
    result = _run_promtool("test", "rules", str(RULE_TESTS.relative_to(ROOT)))
    assert result.returncode == 0, f"promtool test rules failed:\n{result.stdout}{result.stderr}"


def test_alert_names_are_unique_camel_case() -> None:
    """Alert names are CamelCase and unique: playbooks match them by exact name."""
    names = [rule["alert"] for rule in _alerts()]
    assert [name for name in names if not CAMEL_CASE.match(name)] == []
    assert len(names) == len(set(names))


def test_every_alert_has_a_severity() -> None:
    """Each alert carries severity critical, warning or info."""
    bad = {
        rule["alert"]: rule.get("labels", {}).get("severity")
        for rule in _alerts()
        if rule.get("labels", {}).get("severity") not in SEVERITIES
    }
    assert bad == {}


def test_every_alert_has_summary_and_description() -> None:
    """Each alert has non-empty summary and description annotations."""
    bad = [
        rule["alert"]
        for rule in _alerts()
        for key in ("summary", "description")
        if not str(rule.get("annotations", {}).get(key, "")).strip()
    ]
    assert bad == []


def test_container_alerts_add_the_container_label() -> None:
    """Alerts on per-container metrics copy cAdvisor's `name` into a `container` label."""
    per_container = ("container_", "auth_failed_logins_total", "security_scan_")
    bad = [
        rule["alert"]
        for rule in _alerts()
        if any(metric in rule["expr"] for metric in per_container)
        and not ADDS_CONTAINER_LABEL.search(rule["expr"])
    ]
    assert bad == []


def test_every_alert_has_firing_and_quiet_unit_tests() -> None:
    """Each alert has a unit test where it fires (with severity) and one where it stays quiet."""
    firing = {
        case["alertname"]
        for case in _rule_tests()
        if case.get("exp_alerts")
        and all("severity" in alert.get("exp_labels", {}) for alert in case["exp_alerts"])
        and all(alert.get("exp_annotations") for alert in case["exp_alerts"])
    }
    quiet = {case["alertname"] for case in _rule_tests() if not case.get("exp_alerts")}
    names = {rule["alert"] for rule in _alerts()}
    assert names - firing == set()
    assert names - quiet == set()


def test_container_alert_tests_expect_the_container_label() -> None:
    """Firing unit tests of container alerts check the `container` label."""
    container_alerts = {
        rule["alert"] for rule in _alerts() if ADDS_CONTAINER_LABEL.search(rule["expr"])
    }
    tested = {
        case["alertname"]
        for case in _rule_tests()
        for alert in case.get("exp_alerts") or []
        if "container" in alert.get("exp_labels", {})
    }
    assert container_alerts - tested == set()
