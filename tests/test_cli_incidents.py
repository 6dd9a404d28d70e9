"""`responder incidents [ID]`: what a listing holds, and when the undo command is offered."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest
from _builders import make_event
from _reports import INCIDENT_ID, incident, pause_step, seed, snapshot_step

from responder.cli import main
from responder.incidents import ReleaseAttempt, StepRelease

if TYPE_CHECKING:
    from pathlib import Path

RELEASED_AT = "2025-03-14T10:00:00+00:00"
ISOLATE_UNDO = {"networks": {"web-net": {"aliases": ["web"]}}, "quarantine": None}


def seeded(tmp_path: Path, **changes: Any) -> Path:
    """A data directory holding one incident (contained: snapshot then pause unless changed)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    event = make_event()
    asyncio.run(seed(data_dir, incident(data_dir, event, **changes), event))
    return data_dir


def release(state: str, *outcomes: tuple[int, str, str]) -> ReleaseAttempt:
    """One recorded release with these (index, action, status) outcomes."""
    return ReleaseAttempt(
        number=1,
        at=RELEASED_AT,
        requested_by="CLI by dave",
        state=state,  # type: ignore[arg-type]
        steps=tuple(StepRelease(index=i, action=a, status=s, detail=s) for i, a, s in outcomes),
    )


def shown(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """What `responder incidents ID` prints."""
    assert main(["incidents", INCIDENT_ID, "--data-dir", str(data_dir)]) == 0
    return capsys.readouterr().out


def test_the_listing_is_a_table_of_one_row_per_incident(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`responder incidents` prints a header and the incident's id, state, playbook and target."""
    data_dir = seeded(tmp_path)
    assert main(["incidents", "--data-dir", str(data_dir)]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["ID", "OPENED", "STATE", "PLAYBOOK", "TARGET", "EVENTS", "PRIORITY"]
    assert row.split() == [
        INCIDENT_ID,
        "2025-03-14T09:26:54",
        "contained",
        "contain-shell",
        "web",
        "3",
        "Notice",
    ]


def test_an_unknown_incident_is_exit_1_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`responder incidents ID` of an id the store does not hold: exit 1, one line on stderr."""
    data_dir = seeded(tmp_path)
    assert main(["incidents", "01JQ8ZK3V5T7W9X1Y2Z3A4B5ZZ", "--data-dir", str(data_dir)]) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        "responder: no incident 01JQ8ZK3V5T7W9X1Y2Z3A4B5ZZ\n",
    )


def test_the_json_listing_leaves_out_steps_and_releases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: every listed incident said `"steps": []`; a listing now has no such key."""
    data_dir = seeded(tmp_path)
    assert main(["incidents", "--json", "--data-dir", str(data_dir)]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["id"] == INCIDENT_ID
    assert listed["state"] == "contained"
    assert "steps" not in listed
    assert "releases" not in listed


def test_the_json_of_one_incident_is_one_object_with_its_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: `incidents --json ID` printed a list of one; it is the incident itself."""
    data_dir = seeded(tmp_path)
    assert main(["incidents", INCIDENT_ID, "--json", "--data-dir", str(data_dir)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert isinstance(document, dict)
    assert [s["action"] for s in document["steps"]] == ["docker:snapshot", "docker:pause"]
    assert document["releases"] == []


def _still_paused(_data_dir: Path) -> dict[str, Any]:
    return {}


def _partly_released(data_dir: Path) -> dict[str, Any]:
    isolate = pause_step(
        index=2, action="docker:isolate", undo=ISOLATE_UNDO, release_status="failed"
    )
    paused = pause_step(release_status="restored")
    return {
        "state": "partially released",
        "released_at": RELEASED_AT,
        "steps": (snapshot_step(data_dir), paused, isolate),
        "releases": (
            release(
                "partially released",
                (2, "docker:isolate", "failed"),
                (1, "docker:pause", "restored"),
            ),
        ),
    }


def _never_released_isolation(data_dir: Path) -> dict[str, Any]:
    isolate = pause_step(index=2, action="docker:isolate", undo=ISOLATE_UNDO)
    return {"state": "partially contained", "steps": (snapshot_step(data_dir), isolate)}


def _resumed_after_a_crash(data_dir: Path) -> dict[str, Any]:
    resumed = pause_step(status="already", data={"resumed": True})
    return {"steps": (snapshot_step(data_dir), resumed)}


def _released(data_dir: Path) -> dict[str, Any]:
    return {
        "state": "released",
        "released_at": RELEASED_AT,
        "steps": (snapshot_step(data_dir), pause_step(release_status="restored")),
        "releases": (release("released", (1, "docker:pause", "restored")),),
    }


def _released_finding_it_undone(data_dir: Path) -> dict[str, Any]:
    return {
        "state": "released",
        "released_at": RELEASED_AT,
        "steps": (snapshot_step(data_dir), pause_step(release_status="already")),
        "releases": (release("released", (1, "docker:pause", "already")),),
    }


def _dry_run(data_dir: Path) -> dict[str, Any]:
    would = pause_step(status="would", undo=None)
    return {"state": "dry-run", "dry_run": True, "steps": (snapshot_step(data_dir), would)}


def _protected(_data_dir: Path) -> dict[str, Any]:
    skipped = pause_step(status="skipped", detail="skipped: protected (label x=y)", undo=None)
    return {"state": "protected", "reason": "label x=y", "steps": (skipped,)}


def _notify_only(_data_dir: Path) -> dict[str, Any]:
    notify = pause_step(index=0, action="notify", detail="queued for oncall", undo=None)
    return {"state": "notified", "target": None, "container_id": None, "steps": (notify,)}


def _pause_already_before_the_incident(data_dir: Path) -> dict[str, Any]:
    return {"steps": (snapshot_step(data_dir), pause_step(status="already"))}


def _failed_before_any_change(_data_dir: Path) -> dict[str, Any]:
    failed = pause_step(status="failed", undo=None, error="container 'web' not found")
    return {"state": "failed", "steps": (failed,)}


@pytest.mark.parametrize(
    "changes",
    [_still_paused, _partly_released, _never_released_isolation, _resumed_after_a_crash],
)
def test_the_undo_command_is_offered_while_a_change_is_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: Any
) -> None:
    """A step's change not yet undone (never released, or its release failed): `undo:` is shown."""
    data_dir = seeded(tmp_path, **changes(tmp_path / "data"))
    assert "\n  undo: responder release " in shown(data_dir, capsys)


@pytest.mark.parametrize(
    "changes",
    [
        _released,
        _released_finding_it_undone,
        _dry_run,
        _protected,
        _notify_only,
        _pause_already_before_the_incident,
        _failed_before_any_change,
    ],
)
def test_the_undo_command_is_not_offered_when_nothing_is_left_to_undo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: Any
) -> None:
    """Regression: `undo: responder release ...` was printed for incidents with nothing to undo."""
    data_dir = seeded(tmp_path, **changes(tmp_path / "data"))
    assert "undo:" not in shown(data_dir, capsys)
