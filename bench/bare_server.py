"""The reference for the intake benchmark: a bare aiohttp app with one POST handler.

It does the least an intake endpoint can do (read the body, `json.loads` it, answer 202 with a
small JSON body) on the same aiohttp as responder, without an access log, as its own process:

    python bench/bare_server.py --port 8481

It listens on 127.0.0.1 only, serves `POST /v1/events/falco` (the path responder uses) and stops
on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import json

from aiohttp import web

PATH = "/v1/events/falco"


async def intake(request: web.Request) -> web.Response:
    """Read and parse the body, then acknowledge it; nothing is validated or stored."""
    json.loads(await request.read())
    return web.json_response({"status": "accepted"}, status=202)


def create_app() -> web.Application:
    """The app: one POST route, no middleware."""
    app = web.Application()
    app.add_routes([web.post(PATH, intake)])
    return app


def main() -> None:
    """Serve on 127.0.0.1 at `--port` until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    args = parser.parse_args()
    web.run_app(create_app(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
