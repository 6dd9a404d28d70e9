"""Incidents as the runner records them, for report tests; and a data directory holding them."""

from __future__ import annotations

import hashlib
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from _builders import make_event

from responder.actions import Artifact
from responder.incidents import Dispatch, IncidentRecord, IncidentStore, NewIncident, StepRecord
from responder.journal import Journal
from responder.metrics import Metrics
from responder.notifications.channels import Message
from responder.notifications.outbox import OutboxRecord

if TYPE_CHECKING:
    from pathlib import Path

    from responder.journal import Event

INCIDENT_ID = "01JQ8ZK3V5T7W9X1Y2Z3A4B5C6"
PLAYBOOK_SOURCE = '{"name":"contain-shell","steps":[{"action":"docker:snapshot"}]}'
PLAYBOOK_DIGEST = hashlib.sha256(PLAYBOOK_SOURCE.encode()).hexdigest()
LOGS_SHA = "1" * 64
EXPORT_SHA = "2" * 64
MANIFEST_SHA = "3" * 64
IMAGE_SHA = "4" * 64
HOSTILE = (
    "calc={{ 7*7 }} `tick` ``` fence | pipe | </script><script>alert(1)</script>"
    "\x1b[31mred\x1b[0m \u202eevil\u2028next \x85c1 # heading"
)


def evidence_dir(data_dir: Path, incident_id: str = INCIDENT_ID) -> Path:
    """Where the runner puts the incident's evidence."""
    return data_dir / "evidence" / incident_id


def artifact(name: str, kind: str, sha256: str, **changes: Any) -> Artifact:
    """One piece of evidence collected by the snapshot."""
    values: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "sha256": sha256,
        "size": 2048,
        "collected_at": "2025-03-14T09:26:55+00:00",
        "collected_by": f"docker:snapshot (GET /containers/{{id}}/{kind})",
    }
    return Artifact(**(values | changes))


def snapshot_step(data_dir: Path, **changes: Any) -> StepRecord:
    """A done snapshot with logs, an export and a committed image, and its manifest."""
    values: dict[str, Any] = {
        "index": 0,
        "action": "docker:snapshot",
        "status": "done",
        "detail": "snapshot of web: logs, export, commit saved",
        "started_at": "2025-03-14T09:26:54.100000+00:00",
        "duration_ms": 1834.2,
        "attempts": 1,
        "artifacts": (
            artifact("logs.txt", "logs", LOGS_SHA),
            artifact("export.tar", "export", EXPORT_SHA, size=1024, truncated=True),
            artifact("image:responder-evidence/web:x", "commit", IMAGE_SHA),
        ),
        "data": {
            "manifest": str(evidence_dir(data_dir) / "manifest.json"),
            "manifest_sha256": MANIFEST_SHA,
            "errors": [{"part": "top", "error": "web is paused: it has no processes to list"}],
        },
    }
    return StepRecord(**(values | changes))


def pause_step(**changes: Any) -> StepRecord:
    """A done pause, with what release needs to undo it."""
    values: dict[str, Any] = {
        "index": 1,
        "action": "docker:pause",
        "status": "done",
        "detail": "paused web",
        "started_at": "2025-03-14T09:26:56+00:00",
        "duration_ms": 42.0,
        "attempts": 1,
        "undo": {"unpause": True},
    }
    return StepRecord(**(values | changes))


def incident(data_dir: Path, event: Event | None = None, **changes: Any) -> IncidentRecord:
    """A contained incident: snapshot then pause of container `web` (nginx:1.25)."""
    values: dict[str, Any] = {
        "id": INCIDENT_ID,
        "playbook": "contain-shell",
        "playbook_digest": PLAYBOOK_DIGEST,
        "playbook_file": "playbooks/shell.yaml:1",
        "target": "0123456789ab",
        "container_id": "0123456789ab",
        "container_name": "web",
        "image": "nginx:1.25",
        "state": "contained",
        "reason": None,
        "dry_run": False,
        "event_source": "falco",
        "event_name": "Terminal shell in container",
        "priority": "Notice",
        "first_event": event.id if event else "01JQ8ZK3V5T7W9X1Y2Z3A4B5C7",
        "event_count": 3,
        "first_seen": "2025-03-14T09:26:53+00:00",
        "last_seen": "2025-03-14T09:31:10+00:00",
        "opened_at": "2025-03-14T09:26:54+00:00",
        "finished_at": "2025-03-14T09:26:57+00:00",
        "released_at": None,
        "steps": (snapshot_step(data_dir), pause_step()),
    }
    return IncidentRecord(**(values | changes))


def outbox_record(row_id: int, channel: str, **changes: Any) -> OutboxRecord:
    """A notification about the incident, sent unless changed."""
    message = Message(
        kind="incident",
        incident_id=INCIDENT_ID,
        title="[CONTAINED] Notice: Terminal shell in container: web",
        text="contained",
        priority="Notice",
        state="contained",
        dry_run=False,
        playbook="contain-shell",
        event_source="falco",
        event_name="Terminal shell in container",
        event_time="2025-03-14T09:26:53+00:00",
        created_at="2025-03-14T09:26:57+00:00",
    )
    values: dict[str, Any] = {
        "id": row_id,
        "incident_id": INCIDENT_ID,
        "channel": channel,
        "kind": "slack",
        "message": message,
        "state": "sent",
        "attempts": 1,
        "last_error": None,
        "detail": "HTTP 200",
        "created_at": "2025-03-14T09:26:57+00:00",
        "sent_at": "2025-03-14T09:26:58+00:00",
        "next_attempt_at": 0.0,
    }
    return OutboxRecord(**(values | changes))


def hostile_event() -> Event:
    """A Falco event whose every text field is hostile."""
    return make_event(
        name=HOSTILE,
        output=HOSTILE,
        hostname=HOSTILE,
        labels={HOSTILE: HOSTILE},
        fields={"proc.cmdline": HOSTILE},
        raw={"output": HOSTILE},
    )


async def seed(data_dir: Path, record: IncidentRecord, event: Event) -> None:
    """A data directory as the server leaves it: the event journaled, the incident stored."""
    journal = Journal(data_dir, Metrics())
    await journal.open()
    await journal.append([event])
    await journal.close()
    store = IncidentStore(data_dir / "incidents.sqlite3")
    columns = record.model_dump(include={f.name for f in fields(NewIncident)})
    store.dispatch(
        Dispatch(
            cursor=1,
            opened=[NewIncident(**columns, subject=None)],
            sources={record.playbook_digest: PLAYBOOK_SOURCE},
        )
    )
    store._conn.execute(  # times dispatch does not write, as the runner and release left them
        "UPDATE incidents SET finished_at = ?, released_at = ? WHERE id = ?",
        (record.finished_at, record.released_at, record.id),
    )
    for step in record.steps:
        store.save_step(record.id, step)
    for release in record.releases:  # as recorded, with their own times
        store._conn.execute(
            "INSERT INTO releases (incident_id, number, record) VALUES (?, ?, ?)",
            (record.id, release.number, release.model_dump_json()),
        )
    store.close()
