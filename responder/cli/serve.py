"""`responder serve`: the HTTP service, until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from responder.app import create_app
from responder.cli._common import settings_from
from responder.web.tls import server_ssl_context

if TYPE_CHECKING:
    import argparse

    from responder.cli._types import Subparsers

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
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (env RESPONDER_LOG_LEVEL; default INFO)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Start the server; returns when it has shut down gracefully."""
    settings = settings_from(args)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings.check_exposure()
    app = create_app(settings)
    ssl_context = server_ssl_context(settings.tls) if settings.tls else None
    scheme = "https" if ssl_context else "http"
    log.info(
        "responder serving on %s://%s:%d (data %s, playbooks %s)",
        scheme,
        settings.server.host,
        settings.server.port,
        settings.data_dir,
        settings.playbooks,
    )
    web.run_app(
        app,
        host=settings.server.host,
        port=settings.server.port,
        ssl_context=ssl_context,
        shutdown_timeout=settings.server.shutdown_timeout,
        access_log=logging.getLogger("aiohttp.access") if settings.server.access_log else None,
        print=None,
        handle_signals=True,
    )
    log.info("responder stopped")
    return 0
