"""`create_app(settings)`: wires every resource, each opened and closed in its own cleanup context."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from responder.actions import ActionRegistry, default_actions
from responder.audit import AUDIT_FILE, AuditLog
from responder.engine import DockerEngine, SdkEngine
from responder.incidents import INCIDENTS_FILE, AuditAnchor, Incidents
from responder.journal import Journal
from responder.metrics import Metrics
from responder.notifications.channels import build_notifiers
from responder.notifications.outbox import Deliverer, Outbox
from responder.playbooks import PlaybookSet, load_playbooks
from responder.retention import Pruner
from responder.text import Templates
from responder.web import health, incidents, intake, views
from responder.web.auth import Authenticator, auth_middleware
from responder.web.errors import error_middleware
from responder.web.inflight import InFlight
from responder.web.intake import INTAKE_PATHS
from responder.web.query import query_middleware
from responder.web.routing import routed
from responder.web.state import (
    ACTIONS,
    AUDIT,
    DELIVERER,
    ENGINE,
    FOLLOWUP,
    IN_FLIGHT,
    INCIDENTS,
    JOURNAL,
    METRICS,
    OUTBOX,
    PLAYBOOKS,
    PRUNER,
    SETTINGS,
    WORKER,
)
from responder.worker.followup import build_followup
from responder.worker.runner import IncidentRunner
from responder.worker.worker import Worker

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from responder.settings import Settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)


async def _audit_ctx(app: web.Application) -> AsyncIterator[None]:
    audit = app[AUDIT]
    await audit.open()
    log.info("audit log at %s", audit.path)
    yield
    await audit.close()


async def _outbox_ctx(app: web.Application) -> AsyncIterator[None]:
    outbox = app[OUTBOX]
    await outbox.open()
    settings = app[SETTINGS]
    deliverer = Deliverer(
        outbox=outbox,
        notifiers=build_notifiers(settings.channels),
        settings=settings.notifications,
        metrics=app[METRICS],
        audit=app[AUDIT],
    )
    app[DELIVERER] = deliverer
    await deliverer.start()
    yield
    await deliverer.stop()
    await outbox.close()


async def _journal_ctx(app: web.Application) -> AsyncIterator[None]:
    journal = app[JOURNAL]
    await journal.open()
    log.info("journal at %s", journal.path)
    yield
    await journal.close()


async def _engine_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[ENGINE].close()


# Long on purpose: one cleanup context, start before `yield` and stop after, for the worker
# and everything it is built from.
async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    incidents = app[INCIDENTS]
    await incidents.open()
    settings = app[SETTINGS]
    templates = Templates()
    audit = app[AUDIT]
    followup, reports = build_followup(
        settings,
        incidents=incidents,
        outbox=app[OUTBOX],
        audit=audit,
        event=app[JOURNAL].event,
        templates=templates,
    )
    app[FOLLOWUP] = followup
    app[DELIVERER].on_settled(reports.after_delivery)
    runner = IncidentRunner(
        settings=app[SETTINGS],
        journal=app[JOURNAL],
        incidents=incidents,
        engine=app[ENGINE],
        actions=app[ACTIONS],
        playbooks=app[PLAYBOOKS],
        templates=templates,
        followup=followup,
    )
    worker = Worker(
        settings=app[SETTINGS],
        journal=app[JOURNAL],
        incidents=incidents,
        playbooks=app[PLAYBOOKS],
        runner=runner,
        audit=audit,
        engine=app[ENGINE],
        notifications=followup.notifications,
        metrics=app[METRICS],
    )
    app[WORKER] = worker
    await worker.start()
    yield
    await worker.stop()
    await incidents.close()


async def _retention_ctx(app: web.Application) -> AsyncIterator[None]:
    """Prune in the background once every store is open; stop before any of them closes."""
    settings = app[SETTINGS]
    # The audit trail's sealed segments are not in the pass: the service's audit writer prunes
    # them itself (`audit.keep_age`, `audit.keep_bytes`), recording each in `audit.pruned`.
    pruner = Pruner(settings.data_dir, settings.retention, audit=app[AUDIT], metrics=app[METRICS])
    app[PRUNER] = pruner
    if settings.retention.enabled:
        pruner.start()
    yield
    await pruner.stop()


def startup_playbooks(settings: Settings, actions: ActionRegistry) -> PlaybookSet:
    """The playbooks to serve with; a missing directory is an empty set, a bad file stops start-up."""
    if not settings.playbooks.exists():
        log.warning(
            "no playbook directory at %s: events are journaled, none is acted on",
            settings.playbooks,
        )
        return PlaybookSet(directory=settings.playbooks)
    loaded = load_playbooks(
        [settings.playbooks],
        actions,
        channels=settings.channel_names(),
        directory=settings.playbooks,
    )
    log.info("%d playbooks loaded from %s", len(loaded.playbooks), settings.playbooks)
    return loaded


def _log_credentials(settings: Settings, authenticator: Authenticator) -> None:
    """Say at start-up what is open to anyone who reaches the server, and what is off."""
    if authenticator.intake_open:
        log.warning(
            "no credential configured: %s open to anyone who can reach %s; "
            "set RESPONDER_TOKEN or RESPONDER_TOKEN_FILE",
            "intake and reading are" if authenticator.open else "intake is",
            settings.server.host,
        )
    if not authenticator.open and not authenticator.set_up("read"):
        log.info(
            "no read credential: GET /v1/events and /v1/incidents answer 403; "
            "set RESPONDER_READ_TOKEN or RESPONDER_READ_TOKEN_FILE to read over HTTP"
        )


# Long on purpose: the app factory wires every resource in one place, in start-up order.
def create_app(settings: Settings, *, engine: DockerEngine | None = None) -> web.Application:
    """The whole service as an aiohttp application; raises ConfigError on a bad setting or file."""
    settings.check_secrets()  # a channel that cannot authenticate fails now, not at 3 a.m.
    metrics = Metrics()
    authenticator = Authenticator(
        settings.tokens(),
        settings.auth.header,
        mutual_tls=settings.mutual_tls,
        subjects=settings.client_subjects(),
    )
    _log_credentials(settings, authenticator)

    def count_rejected(request: web.Request) -> None:
        if (source := INTAKE_PATHS.get(request.path)) is not None:
            metrics.received(source, "unauthorized")

    in_flight = InFlight()
    app = web.Application(
        middlewares=[
            in_flight.middleware,
            error_middleware,
            auth_middleware(authenticator, INTAKE_PATHS, count_rejected),
            query_middleware,
        ],
        client_max_size=settings.server.max_body_bytes,
        # Intake decodes gzip and deflate itself (responder.intake.encoding), within the limit.
        handler_args={"auto_decompress": False},
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[IN_FLIGHT] = in_flight
    app[JOURNAL] = Journal(settings.data_dir, metrics)
    # As many Docker calls at once as containers may be worked on at once (and a few for
    # look-ups and readiness), so that `limits.concurrency` is not capped by the pool.
    app[ENGINE] = engine or SdkEngine(settings.docker, max_workers=settings.limits.concurrency + 4)
    actions = ActionRegistry(default_actions())
    app[ACTIONS] = actions
    app[PLAYBOOKS] = startup_playbooks(settings, actions)
    app[INCIDENTS] = Incidents(settings.data_dir)
    app[OUTBOX] = Outbox(settings.data_dir)
    app[AUDIT] = AuditLog(
        settings.data_dir / AUDIT_FILE,
        on_error=metrics.audit_errors.inc,
        anchor=AuditAnchor(settings.data_dir / INCIDENTS_FILE),
        on_head=metrics.audit_head,
        settings=settings.audit,
    )
    # Opened in this order, closed in reverse: the audit log outlives everything that writes it.
    app.cleanup_ctx.extend(
        [_audit_ctx, _journal_ctx, _engine_ctx, _outbox_ctx, _worker_ctx, _retention_ctx]
    )
    routed(app, [*intake.routes(), *views.routes(), *incidents.routes(), *health.routes()])
    return app
