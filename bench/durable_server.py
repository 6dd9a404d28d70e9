"""The durable reference for the intake benchmark: the least a receiver that keeps events can do.

Same aiohttp as responder and as `bench/bare_server.py`, no access log, its own process:

    python bench/durable_server.py --port 8482 --db /tmp/ref/events.sqlite3

`POST /v1/events/falco` reads the body, parses it with `json.loads` (a body that is not a JSON
object gets 400), and hands it to one writer thread. The writer takes every body queued so far
(up to 512), inserts them in one transaction into a SQLite file in WAL mode with
`synchronous=FULL`, commits (the fsync), then wakes the event loop once for the whole group; each
request answers 202 only after its commit. Nothing is validated, normalised, deduplicated,
matched or audited: that is what responder's figure is compared against.

It listens on 127.0.0.1 only and stops on SIGINT or SIGTERM, after the queued commits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import queue
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

PATH = "/v1/events/falco"
MAX_BATCH = 512
WRITER: web.AppKey[Writer] = web.AppKey("writer")

Job = tuple[str, str, "asyncio.Future[None]"]


class Writer:
    """One thread, one connection: every queued body goes into the next commit."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS events "
            "(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)"
        )
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self._thread.start()

    async def append(self, body: str) -> None:
        """Queue one body; returns once its commit is on disk."""
        future = self._loop.create_future()
        self._queue.put((uuid.uuid4().hex, body, future))
        await future

    def close(self) -> None:
        """Commit what is queued, then stop the thread and close the file."""
        self._queue.put(None)
        self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            batch = [job]
            stopping = False
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            error: str | None = None
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(
                    "INSERT INTO events (id, body) VALUES (?, ?)", [(i, b) for i, b, _ in batch]
                )
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:  # the batch fails (500), never the thread
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                error = str(exc)
            self._loop.call_soon_threadsafe(_settle, [f for _, _, f in batch], error)
            if stopping:
                break


def _settle(futures: list[asyncio.Future[None]], error: str | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(web.HTTPInternalServerError(text=error))


async def intake(request: web.Request) -> web.Response:
    """Read and parse the body, commit it durably, then acknowledge it."""
    raw = await request.read()
    body = json.loads(raw)
    if not isinstance(body, dict):
        return web.json_response({"error": "not a JSON object"}, status=400)
    await request.app[WRITER].append(raw.decode())
    return web.json_response({"status": "accepted"}, status=202)


def create_app(db: Path) -> web.Application:
    """The app: one POST route, no middleware, the writer opened at start-up."""
    app = web.Application()
    app.add_routes([web.post(PATH, intake)])

    async def writer(app: web.Application) -> AsyncIterator[None]:
        app[WRITER] = Writer(db, asyncio.get_running_loop())
        yield
        await asyncio.to_thread(app[WRITER].close)

    app.cleanup_ctx.append(writer)
    return app


def main() -> None:
    """Serve on 127.0.0.1 at `--port` until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    parser.add_argument("--db", type=Path, required=True, help="the SQLite file to write")
    args = parser.parse_args()
    web.run_app(create_app(args.db), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
