"""`check`, `plan`, `actions` and `test` on the command line: output and exit codes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from responder.cli import main

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import docker

PLAYBOOK = """\
name: contain-shell
order: 10
match:
  rules: [Terminal shell in container]
  priority: ">=Notice"
steps:
  - action: docker:snapshot
    with: {export: true}
  - action: docker:pause
  - action: notify
    with:
      channels: [oncall]
      message: "{{ event.rule }} in {{ container.name }}: {{ event.output }}"
"""


def write(directory: Path, name: str, text: str) -> Path:
    """Write a file under `directory`, creating it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def shell_body(
    container_name: str, container_id: str | None = None, **changes: Any
) -> dict[str, Any]:
    """A Falco body for a shell in `container_name`."""
    fields: dict[str, Any] = {"container.name": container_name, "proc.name": "sh"}
    if container_id:
        fields["container.id"] = container_id
    body: dict[str, Any] = {
        "rule": "Terminal shell in container",
        "priority": "Notice",
        "output": "shell {{ 7*7 }} spawned",
        "hostname": "node-4",
        "output_fields": fields,
    }
    body.update(changes)
    return body


def test_check_passes_with_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid directory exits 0 with one summary line."""
    write(tmp_path / "pb", "a.yaml", PLAYBOOK)
    assert main(["check", str(tmp_path / "pb")]) == 0
    assert capsys.readouterr().out.startswith("ok: 1 playbooks in 1 files")


def test_check_lists_every_problem_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo, an unknown action and bad YAML are all reported, each with file:line, exit 1."""
    directory = tmp_path / "pb"
    typo = write(directory, "typo.yaml", PLAYBOOK.replace("  priority:", "  priorty:"))
    unknown = write(
        directory,
        "unknown.yaml",
        PLAYBOOK.replace("name: contain-shell", "name: b").replace("docker:pause", "docker:pase"),
    )
    broken = write(directory, "broken.yaml", "name: c\nmatch: {rules: [x\n")
    assert main(["check", str(directory)]) == 1
    err = capsys.readouterr().err
    assert f"{typo}:5: match.priorty: unknown field" in err
    assert f"{unknown}:9: steps.1.action: unknown action 'docker:pase'" in err
    assert f"{broken}:" in err
    assert "invalid YAML" in err
    assert "3 problems found" in err


def test_check_json_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--json` gives ok, summary and errors for machines."""
    write(
        tmp_path / "pb",
        "a.yaml",
        PLAYBOOK.replace("timeout", "x").replace("export: true", "export: maybe"),
    )
    assert main(["check", str(tmp_path / "pb"), "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["ok"] is False
    assert "steps.0.with.export" in answer["errors"][0]


def test_check_reports_a_bad_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The configuration is validated too."""
    config = write(tmp_path, "r.yaml", "limits:\n  max_containments: 0\n")
    write(tmp_path / "pb", "a.yaml", PLAYBOOK)
    assert main(["check", "--config", str(config), str(tmp_path / "pb")]) == 1
    assert f"{config}:2: limits.max_containments" in capsys.readouterr().err


def test_check_reports_a_token_shared_by_two_roles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What would stop start-up is found by `check` first, naming the settings, not the token."""
    monkeypatch.setenv("RESPONDER_TOKEN", "shared-secret-value")
    monkeypatch.setenv("RESPONDER_ADMIN_TOKEN", "shared-secret-value")
    write(tmp_path / "pb", "a.yaml", PLAYBOOK)
    assert main(["check", str(tmp_path / "pb")]) == 1
    err = capsys.readouterr().err
    assert "admin token (RESPONDER_ADMIN_TOKEN) is the same as the intake token" in err
    assert "shared-secret-value" not in err


def test_check_reports_an_unreadable_token_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read token file that is not there is one problem line naming its setting."""
    monkeypatch.setenv("RESPONDER_READ_TOKEN_FILE", str(tmp_path / "missing"))
    write(tmp_path / "pb", "a.yaml", PLAYBOOK)
    assert main(["check", str(tmp_path / "pb")]) == 1
    assert "RESPONDER_READ_TOKEN_FILE (auth.read_token_file): token file" in capsys.readouterr().err


def test_actions_lists_parameters_and_undo(capsys: pytest.CaptureFixture[str]) -> None:
    """Every action with its parameters, types, defaults and what undoes it."""
    assert main(["actions", "--json"]) == 0
    listing = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert {
        "docker:snapshot",
        "docker:isolate",
        "docker:pause",
        "docker:stop",
        "docker:kill",
        "notify",
    } <= set(listing)
    assert listing["docker:pause"]["undo"] == "unpause"
    stop = {p["name"]: p for p in listing["docker:stop"]["parameters"]}
    assert stop["timeout"]["default"] == 10
    assert stop["timeout"]["type"] == "integer"
    assert main(["actions"]) == 0
    assert "undone by: unpause" in capsys.readouterr().out


def test_plan_without_engine_says_the_docker_steps_would_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no engine to ask, docker steps would fail as the run fails them; notify still runs."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    write(tmp_path / "pb", "a.yaml", PLAYBOOK)
    event = write(tmp_path, "e.json", json.dumps(shell_body("ghost")))
    assert main(["plan", str(event), "--playbooks", str(tmp_path / "pb")]) == 0
    out = capsys.readouterr().out
    assert "not checked: Docker engine unreachable" in out
    assert out.count("would fail: the Docker engine does not answer") == 1
    assert "would skip: not run: step 1 (docker:snapshot) failed" in out
    assert "the incident would fail; its notify steps still run" in out
    assert "would notify oncall" in out
    assert "dry-run: nothing was changed" in out


def test_plan_rejects_a_body_that_is_no_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JSON file that is neither kind of body is a clear error, exit 2."""
    write(tmp_path / "pb", "a.yaml", PLAYBOOK)
    event = write(tmp_path, "e.json", json.dumps({"hello": "world"}))
    assert main(["plan", str(event), "--playbooks", str(tmp_path / "pb")]) == 2
    assert "rule: Field required" in capsys.readouterr().err


@pytest.fixture
def live(docker_client: docker.DockerClient, test_image: str) -> Iterator[Any]:
    """A running container named for this test, removed afterwards."""
    container = docker_client.containers.run(
        test_image,
        ["sleep", "300"],
        detach=True,
        name="responder-plan-test",
        labels={"environment": "production"},
    )
    yield container
    container.remove(force=True)


@pytest.mark.docker
def test_plan_reads_the_live_container_and_renders_alert_text_as_data(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    live: Any,
) -> None:
    """The live container is found; template syntax in the alert is printed, never evaluated."""
    write(tmp_path / "pb", "a.yaml", PLAYBOOK)
    event = write(tmp_path, "e.json", json.dumps(shell_body(live.name, live.id[:12])))
    assert main(["plan", str(event), "--playbooks", str(tmp_path / "pb"), "--json"]) == 0
    [plan] = json.loads(capsys.readouterr().out)
    assert plan["container"]["name"] == "responder-plan-test"
    assert plan["container"]["labels"] == {"environment": "production"}
    steps = plan["plans"][0]["steps"]
    assert [s["would"] for s in steps][:2] == [
        "snapshot responder-plan-test: top, inspect, logs, diff, export",
        "pause responder-plan-test",
    ]
    assert steps[2]["with"]["message"] == (
        "Terminal shell in container in responder-plan-test: shell {{ 7*7 }} spawned"
    )
    live.reload()
    assert live.status == "running"


@pytest.mark.docker
def test_plan_skips_protected_containers(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    docker_client: docker.DockerClient,
    test_image: str,
) -> None:
    """A container labelled responder.protect=true is never acted on; notify still runs."""
    container = docker_client.containers.run(
        test_image, ["sleep", "300"], detach=True, labels={"responder.protect": "true"}
    )
    try:
        write(tmp_path / "pb", "a.yaml", PLAYBOOK)
        event = write(tmp_path, "e.json", json.dumps(shell_body(str(container.name))))
        assert main(["plan", str(event), "--playbooks", str(tmp_path / "pb")]) == 0
        out = capsys.readouterr().out
        assert out.count("would skip: protected (label responder.protect=true)") == 2
        assert "would notify oncall" in out
    finally:
        container.remove(force=True)


def test_test_command_shows_expected_against_actual(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failing case prints file:line, name, expected and actual; exit 1."""
    write(tmp_path / "pb", "a.yaml", PLAYBOOK)
    cases = write(
        tmp_path / "cases",
        "shell.test.yaml",
        "tests:\n"
        "  - name: shell is contained\n"
        f"    event: {json.dumps(shell_body('web-1'))}\n"
        "    expect:\n"
        "      - playbook: contain-shell\n"
        "        steps: [docker:snapshot, docker:isolate, notify]\n",
    )
    assert main(["test", str(cases), "--playbooks", str(tmp_path / "pb")]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {cases}:2: shell is contained" in out
    assert (
        "contain-shell steps: expected ['docker:snapshot', 'docker:isolate', 'notify'], "
        "got ['docker:snapshot', 'docker:pause', 'notify']"
    ) in out
    assert "0 passed, 1 failed" in out


def test_check_reports_step_errors_beside_schema_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in `match` does not hide an unknown action in the same playbook."""
    write(
        tmp_path / "pb",
        "x.yaml",
        'name: x\nmatch:\n  priorty: ">=Notice"\nsteps:\n  - action: docker:pase\n',
    )
    assert main(["check", str(tmp_path / "pb")]) == 1
    err = capsys.readouterr().err
    assert "x.yaml:3: match.priorty: unknown field" in err
    assert "x.yaml:5: steps.0.action: unknown action 'docker:pase'" in err
    assert "2 problems found" in err


def test_test_command_uses_no_container_for_host_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As in `plan`, a host event has no container even when the case describes one."""
    selector = PLAYBOOK.replace('  priority: ">=Notice"\n', "").replace(
        "match:\n", "match:\n  container: {labels: {environment: production}}\n"
    )
    write(tmp_path / "pb", "a.yaml", selector)
    body = shell_body("host", "host")
    cases = write(
        tmp_path / "cases",
        "host.test.yaml",
        "tests:\n  - name: host shell\n"
        f"    event: {json.dumps(body)}\n"
        "    container: {name: web, labels: {environment: production}}\n"
        "    expect: []\n",
    )
    assert main(["test", str(cases), "--playbooks", str(tmp_path / "pb")]) == 0
    assert "1 passed, 0 failed" in capsys.readouterr().out
