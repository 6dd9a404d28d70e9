"""Typed application state: one `web.AppKey` per resource that `create_app` wires."""

from __future__ import annotations

from aiohttp import web

from responder.actions import ActionRegistry
from responder.audit import AuditLog
from responder.engine import DockerEngine
from responder.incidents import Incidents
from responder.journal import Journal
from responder.metrics import Metrics
from responder.notifications.outbox import Deliverer, Outbox
from responder.playbooks import PlaybookSet
from responder.retention import Pruner
from responder.settings import Settings
from responder.web.inflight import InFlight
from responder.worker.followup import FollowUp
from responder.worker.worker import Worker

__all__ = [
    "ACTIONS",
    "AUDIT",
    "DELIVERER",
    "ENGINE",
    "FOLLOWUP",
    "INCIDENTS",
    "IN_FLIGHT",
    "JOURNAL",
    "METRICS",
    "OUTBOX",
    "PLAYBOOKS",
    "PRUNER",
    "SETTINGS",
    "WORKER",
]

SETTINGS = web.AppKey("settings", Settings)
ACTIONS = web.AppKey("actions", ActionRegistry)
METRICS = web.AppKey("metrics", Metrics)
JOURNAL = web.AppKey("journal", Journal)
ENGINE = web.AppKey("engine", DockerEngine)
PLAYBOOKS = web.AppKey("playbooks", PlaybookSet)
IN_FLIGHT = web.AppKey("in_flight", InFlight)
INCIDENTS = web.AppKey("incidents", Incidents)
WORKER = web.AppKey("worker", Worker)
OUTBOX = web.AppKey("outbox", Outbox)
DELIVERER = web.AppKey("deliverer", Deliverer)
AUDIT = web.AppKey("audit", AuditLog)
FOLLOWUP = web.AppKey("followup", FollowUp)
PRUNER = web.AppKey("pruner", Pruner)
