"""`responder serve`: the HTTP service, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

from aiohttp import web

from responder.app import create_app
from responder.cli._common import settings_from
from responder.cli.logs import configure_logging
from responder.web.errors import QuietMalformedRequests
from responder.web.state import IN_FLIGHT
from responder.web.tls import server_ssl_context

if TYPE_CHECKING:
    import argparse
    from ssl import SSLContext

    from responder.cli._types import Subparsers
    from responder.settings import Settings

__all__ = ["register"]

log = logging.getLogger("responder")


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add `serve` and its flags."""
    parser = commands.add_parser(
        "serve", parents=[parent], help="run the HTTP service", description=__doc__
    )
    parser.add_argument("--host", help="address to bind (env RESPONDER_HOST; default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (env RESPONDER_PORT; default 8470)")
    parser.add_argument(
        "--playbooks", metavar="DIR", help="playbook directory (env RESPONDER_PLAYBOOKS)"
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback address with no credential (env RESPONDER_INSECURE)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="run every playbook as a dry-run: nothing is changed (env RESPONDER_DRY_RUN)",
    )
    parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (env RESPONDER_LOG_LEVEL; default INFO)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Start the server; returns when it has shut down gracefully."""
    settings = settings_from(args)
    # One line per record: a line break in an alert's text cannot forge a record of its own.
    configure_logging(settings.log_level)
    logging.getLogger("aiohttp.server").addFilter(QuietMalformedRequests())
    settings.check_exposure()
    app = create_app(settings)
    ssl_context = server_ssl_context(settings.tls) if settings.tls else None
    asyncio.run(_serve(app, settings, ssl_context))
    log.info("responder stopped")
    return 0


# Long on purpose: the graceful shutdown is one sequence (stop listening, drain, clean up)
# whose order matters; split, the order would be harder to see.
async def _serve(app: web.Application, settings: Settings, ssl_context: SSLContext | None) -> None:
    """Serve until SIGTERM/SIGINT; then stop listening and let requests in flight finish.

    aiohttp's own `run_app` stops reading from open connections at shutdown, so a request
    whose body is still arriving would time out; here the connections stay open until every
    handler is done (or `shutdown_timeout` passes), and only then is the runner cleaned up.
    """
    server = settings.server
    access_log = logging.getLogger("aiohttp.access") if server.access_log else None
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=access_log,
        shutdown_timeout=server.shutdown_timeout,
        # aiohttp closes a connection that has no complete request within this time of opening
        # (or of its last answer): idle keep-alives, and headers sent a byte at a time.
        keepalive_timeout=server.idle_timeout,
    )
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        site = web.TCPSite(runner, server.host, server.port, ssl_context=ssl_context)
        await site.start()
        log.info(
            "responder serving on %s (data %s, playbooks %s)",
            site.name,
            settings.data_dir,
            settings.playbooks,
        )
        await stop.wait()
        in_flight = app[IN_FLIGHT]
        log.info("shutting down: %d requests in flight", in_flight.count)
        await site.stop()
        if not await in_flight.wait_idle(server.shutdown_timeout):
            log.warning(
                "%d requests still running after %g s", in_flight.count, server.shutdown_timeout
            )
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await runner.cleanup()
