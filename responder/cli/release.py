"""`responder release ID`: undo an incident's containment (unpause, reconnect, start)."""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import TYPE_CHECKING

from responder.actions import ActionRegistry, default_actions
from responder.cli._common import emit_json, say, settings_from
from responder.cli._followup import offline_followup
from responder.engine import SdkEngine
from responder.errors import ConfigError, ConflictError, NotFoundError
from responder.incidents import INCIDENTS_FILE, Incidents, ReleaseRecord
from responder.worker.release import release_incident

if TYPE_CHECKING:
    import argparse

    from responder.cli._types import Subparsers
    from responder.settings import Settings

__all__ = ["register"]


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add `release`."""
    parser = commands.add_parser(
        "release", parents=[parent], help="undo an incident's containment", description=__doc__
    )
    parser.add_argument("incident_id", metavar="ID", help="the incident")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


async def _release(settings: Settings, incident_id: str) -> ReleaseRecord:
    incidents = Incidents(settings.data_dir)
    engine = SdkEngine(settings.docker)
    await incidents.open()
    try:
        async with offline_followup(settings, incidents) as followup:
            return await release_incident(
                incident_id,
                incidents=incidents,
                engine=engine,
                actions=ActionRegistry(default_actions()),
                data_dir=settings.data_dir,
                followup=followup,
                requested_by=f"CLI by {_user()}",
            )
    finally:
        await incidents.close()
        await engine.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's arbitrary user)
        return "unknown user"


def run(args: argparse.Namespace) -> int:
    """Exit 0 when everything was restored, 1 when something could not be."""
    settings = settings_from(args)
    if not (settings.data_dir / INCIDENTS_FILE).exists():
        raise ConfigError(f"no incidents in {settings.data_dir}")
    try:
        result = asyncio.run(_release(settings, args.incident_id))
    except (NotFoundError, ConflictError) as exc:  # nothing was done: say why
        sys.stderr.write(f"responder: {exc}\n")
        return 1
    if args.json:
        emit_json(result.model_dump(mode="json"))
    else:
        say(
            f"incident {result.incident_id}: {result.state} (release {result.number}, at {result.at})"
        )
        for step in result.steps:
            say(f"  {step.action}: {step.release_status}: {step.release_detail}")
    return 0 if result.state == "released" else 1
