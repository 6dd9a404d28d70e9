"""The worker's tests' shared pieces: a containment playbook, a Falco body, waiting for the worker."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from responder.settings import Limits
from responder.web.state import INCIDENTS, WORKER

if TYPE_CHECKING:
    from aiohttp.test_utils import TestClient
    from aiohttp.web import Application

__all__ = [
    "FAST",
    "PLAYBOOK",
    "get_incident",
    "incidents_of",
    "post_and_settle",
    "settle",
    "shell",
]

PLAYBOOK = """\
name: contain-shell
match:
  rules: [Terminal shell in container]
steps:
  - action: docker:snapshot
  - action: docker:isolate
  - action: docker:pause
  - action: notify
    with: {channels: [oncall]}
"""
FAST = Limits(
    retries=1,
    retry_backoff=timedelta(milliseconds=10),
    retry_backoff_max=timedelta(milliseconds=50),
)


def shell(container: Any, n: int = 0) -> dict[str, Any]:
    """A Falco body about a shell in `container`."""
    return {
        "rule": "Terminal shell in container",
        "priority": "Notice",
        "output": f"shell in {container.name} #{n}",
        "time": 1_790_000_000_000_000_000 + n,
        "output_fields": {"container.id": container.id[:12], "container.name": container.name},
    }


async def settle(client: TestClient[Any, Application]) -> None:
    """Wait (bounded) until the worker has dispatched and finished everything."""
    async with asyncio.timeout(60):
        await client.app[WORKER].idle()


async def post_and_settle(
    client: TestClient[Any, Application],
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> int:
    """POST a Falco event, then wait until the worker has done everything; the status."""
    response = await client.post("/v1/events/falco", json=body, headers=headers)
    await settle(client)
    return response.status


async def incidents_of(client: TestClient[Any, Application]) -> list[Any]:
    """Every incident, newest first, with steps."""
    store = client.app[INCIDENTS]
    rows = await store.run(lambda s: s.list(100))
    return [await get_incident(client, row.id) for row in rows]


async def get_incident(client: TestClient[Any, Application], incident_id: str) -> Any:
    """One incident with its steps."""
    return await client.app[INCIDENTS].run(lambda s: s.get(incident_id))
