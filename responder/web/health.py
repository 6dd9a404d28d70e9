"""Liveness, readiness (journal writable, Docker reachable, playbooks loaded) and metrics."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from responder.web.state import ENGINE, JOURNAL, METRICS, OUTBOX, PLAYBOOKS, SETTINGS, WORKER

if TYPE_CHECKING:
    from collections.abc import Awaitable

__all__ = ["routes"]

_CHECK_TIMEOUT = 2.0


async def healthz(request: web.Request) -> web.Response:
    """`GET /healthz`: the process is alive and serving."""
    del request
    return web.json_response({"status": "ok"})


async def _check(probe: Awaitable[Any]) -> dict[str, Any]:
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT):
            await probe
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {_CHECK_TIMEOUT:g} s"}
    except Exception as exc:  # noqa: BLE001 - any failure is the check's answer
        return {"ok": False, "error": str(exc) or type(exc).__name__}
    return {"ok": True}


async def readyz(request: web.Request) -> web.Response:
    """`GET /readyz`: 200 when every check passes, else 503; the body says which one failed."""
    app = request.app
    journal, docker, worker = await asyncio.gather(
        _check(app[JOURNAL].check_writable()), _check(app[ENGINE].ping()), _worker(app)
    )
    playbooks = app[PLAYBOOKS]
    checks = {
        "journal": journal | {"path": str(app[JOURNAL].path)},
        "docker": docker,
        "worker": worker,
        "playbooks": {
            "ok": True,
            "directory": str(playbooks.directory),
            "files": len(playbooks.files),
            "playbooks": len(playbooks.playbooks),
        },
    }
    ready = all(check["ok"] for check in checks.values())
    failing = [name for name, check in checks.items() if not check["ok"]]
    return web.json_response(
        {
            "status": "ready" if ready else "not ready",
            "failing": failing,
            "checks": checks,
            "notifications": await _notifications(app),
        },
        status=200 if ready else 503,
    )


async def _worker(app: web.Application) -> dict[str, Any]:
    """The worker that acts on what intake acknowledged: alive, and making progress."""
    worker = app.get(WORKER)
    if worker is None:
        return {"ok": False, "error": "the worker has not started"}
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT):
            return await worker.health()
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {_CHECK_TIMEOUT:g} s"}
    except Exception as exc:  # noqa: BLE001 - any failure is the check's answer
        return {"ok": False, "error": str(exc) or type(exc).__name__}


async def _notifications(app: web.Application) -> dict[str, Any]:
    """Delivery per channel: shown, but never a reason to be unready.

    A Slack outage must not take intake out of a load balancer: events keep being journaled
    and contained, and the messages wait in the outbox.
    """
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT):
            stats = await app[OUTBOX].run(lambda store: store.stats())
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return {"ok": False, "error": str(exc) or type(exc).__name__, "channels": {}}
    # Failing now: messages waiting after a failed attempt. Given-up messages stay counted in
    # `failed` per channel (and in the incidents) without marking the channel down forever.
    degraded = sorted(name for name, s in stats.items() if s["failing"])
    idle = {"pending": 0, "failing": 0, "failed": 0, "oldest_pending": None, "last_error": None}
    channels = {name: stats.get(name, idle) for name in sorted(app[SETTINGS].channels)}
    return {"ok": not degraded, "degraded": degraded, "channels": channels}


async def metrics(request: web.Request) -> web.Response:
    """`GET /metrics`: the Prometheus text format."""
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def routes() -> list[web.RouteDef]:
    """Health, readiness and metrics: open, no credential needed."""
    return [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics),
    ]
