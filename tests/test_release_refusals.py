"""A release that cannot be done says why, with the status and words it always had.

Release raises domain errors (`IncidentNotFoundError`, `IncidentStillRunningError`); the web
layer answers them 404 and 409, the command line prints them and exits 1. Nothing is changed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from _builders import make_event
from _reports import INCIDENT_ID, incident, seed
from pydantic import SecretStr

from responder.cli import main
from responder.settings import AuthSettings

if TYPE_CHECKING:
    from pathlib import Path

    import pytest
    from conftest import ClientFactory

UNKNOWN = "01JQ8ZK3V5T7W9X1Y2Z3A4B5ZZ"
ADMIN = {"Authorization": "Bearer admin-token"}


async def test_releasing_an_unknown_incident_over_http_is_a_404_naming_it(
    make_client: ClientFactory,
) -> None:
    """`POST /v1/incidents/ID/release` for no such incident: 404, `no incident 'ID'`."""
    client = await make_client(auth=AuthSettings(admin_token=SecretStr("admin-token")))
    response = await client.post(f"/v1/incidents/{UNKNOWN}/release", headers=ADMIN)
    assert response.status == 404
    assert await response.json() == {"error": "not found", "message": f"no incident {UNKNOWN!r}"}


def test_releasing_an_unknown_incident_from_the_cli_says_so_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`responder release ID` for no such incident: exit 1, `responder: no incident 'ID'`."""
    data_dir = tmp_path / "data"
    event = make_event()
    asyncio.run(seed(data_dir, incident(data_dir, event), event))
    assert main(["release", UNKNOWN, "--data-dir", str(data_dir)]) == 1
    assert capsys.readouterr().err == f"responder: no incident {UNKNOWN!r}\n"


def test_releasing_a_running_incident_from_the_cli_waits_for_its_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An incident still running its steps is not released: exit 1, and the command says when."""
    data_dir = tmp_path / "data"
    event = make_event()
    running = incident(data_dir, event, state="running", finished_at=None)
    asyncio.run(seed(data_dir, running, event))
    assert main(["release", INCIDENT_ID, "--data-dir", str(data_dir)]) == 1
    assert capsys.readouterr().err == (
        f"responder: incident {INCIDENT_ID} is still running its steps; "
        "release it when it finishes\n"
    )
