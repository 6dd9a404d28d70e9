"""A client of one responder on 127.0.0.1: POST a Falco event, read and wait for its incidents."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from harness import HOST, INTAKE_PATH, BenchError

if TYPE_CHECKING:
    from collections.abc import Callable

HTTP_TIMEOUT_S = 30.0
INCIDENT_PAGE = 500
JSON_HEADERS = {"Content-Type": "application/json"}

FINAL_STATES = frozenset(
    {
        "contained",
        "partially contained",
        "failed",
        "notified",
        "dry-run",
        "protected",
        "held",
        "resolved",
    }
)
"""Every incident state but `running` (and the released ones, which no benchmark reaches)."""

Incident = dict[str, Any]
"""An incident as `GET /v1/incidents` lists it, or as `GET /v1/incidents/ID` gives it in full."""


def stamp_ns(text: str | None) -> int | None:
    """An incident's ISO 8601 timestamp as ns since the epoch, or None."""
    return int(datetime.fromisoformat(text).timestamp() * 1e9) if text else None


@dataclass(frozen=True)
class Api:
    """Requests to one server on 127.0.0.1."""

    port: int

    def connection(self) -> http.client.HTTPConnection:
        """A new connection, not yet connected."""
        return http.client.HTTPConnection(HOST, self.port, timeout=HTTP_TIMEOUT_S)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """One request on its own connection; (status, body); BenchError when it fails."""
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=JSON_HEADERS if body else {})
            response = conn.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise BenchError(f"{method} {path} failed: {exc}") from exc
        finally:
            conn.close()
        return response.status, answer

    def post_event(self, body: bytes) -> None:
        """POST one Falco event; BenchError unless it is acknowledged (202)."""
        status, _ = self.request("POST", INTAKE_PATH, body)
        if status != 202:
            raise BenchError(f"POST {INTAKE_PATH} answered {status}, not 202")

    def get_json(self, path: str) -> Any:  # noqa: ANN401 - JSON
        """GET a JSON document; BenchError on anything but 200."""
        status, body = self.request("GET", path)
        if status != 200:
            raise BenchError(f"GET {path} answered {status}: {body[:300]!r}")
        return json.loads(body)

    def incidents(self) -> list[Incident]:
        """Every incident, page after page (a fresh server has only this run's)."""
        found: list[Incident] = []
        path: str | None = f"/v1/incidents?limit={INCIDENT_PAGE}"
        while path:
            page = self.get_json(path)
            found += page["incidents"]
            path = page["next"]
        return found

    def incident(self, incident_id: str) -> Incident:
        """One incident in full, with its steps."""
        found: Incident = self.get_json(f"/v1/incidents/{incident_id}")
        return found

    def wait_incidents(
        self, missing: Callable[[list[Incident]], str | None], timeout: float, poll_s: float
    ) -> list[Incident]:
        """Poll the incidents until nothing is missing; BenchError after `timeout`.

        `missing` says what is still missing from the incidents listed, or None when nothing is.
        """
        deadline = time.monotonic() + timeout
        while True:
            incidents = self.incidents()
            lacking = missing(incidents)
            if lacking is None:
                return incidents
            if time.monotonic() > deadline:
                raise BenchError(f"after {timeout:g} s: {lacking}")
            time.sleep(poll_s)
