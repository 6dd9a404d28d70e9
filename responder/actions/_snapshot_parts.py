"""What `docker:snapshot` collects, part by part: each written through the evidence directory."""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING, Literal, Protocol

import docker.errors
import requests.exceptions

from responder.actions._containers import explain
from responder.actions._evidence_file import json_bytes, utc_now

if TYPE_CHECKING:
    from collections.abc import Callable

    from responder.actions._containers import Live
    from responder.actions._evidence import EvidenceDir
    from responder.actions._evidence_file import EvidenceFile

__all__ = ["ReadOnlyParts", "commit_image", "export_filesystem", "read_only_parts"]


class ReadOnlyParts(Protocol):
    """Which read-only parts a snapshot takes (`SnapshotParams` of `docker:snapshot`)."""

    @property
    def top(self) -> bool:
        """Processes, as `docker top` lists them."""

    @property
    def inspect(self) -> bool:
        """The container's whole `inspect` document."""

    @property
    def logs(self) -> bool:
        """Its stdout and stderr, with timestamps."""

    @property
    def log_tail(self) -> int | None:
        """Only the last N log lines, or all of them."""

    @property
    def diff(self) -> bool:
        """Its filesystem changes against the image."""


_CHUNK = 1 << 20
_REPOSITORY = "responder-evidence"
# Docker's grammar for one path component of a repository, and for a tag.
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"\w[\w.-]{0,127}")


def read_only_parts(
    client: docker.DockerClient, evidence: EvidenceDir, params: ReadOnlyParts, now: Live
) -> None:
    """top, inspect, logs, diff: in that order, the most volatile first."""
    if params.top:
        if now.running:
            top = partial(_write_json, lambda: client.api.top(now.id))
            evidence.collect("top", "top.json", "GET /containers/{id}/top", top)
        else:
            evidence.fail("top", f"{now.name} is {now.status}: it has no processes to list")
    if params.inspect:
        inspect = partial(_write_json, lambda: client.api.inspect_container(now.id))
        evidence.collect("inspect", "inspect.json", "GET /containers/{id}/json", inspect)
    if params.logs:
        tail: int | Literal["all"] = params.log_tail or "all"
        logs = partial(_logs, client, now.id, tail)
        endpoint = f"GET /containers/{{id}}/logs?stdout=1&stderr=1&timestamps=1&tail={tail}"
        evidence.collect("logs", "logs.txt", endpoint, logs)
    if params.diff:
        diff = partial(_write_json, lambda: client.api.diff(now.id) or [])
        evidence.collect("diff", "diff.json", "GET /containers/{id}/changes", diff)


def _write_json(fetch: Callable[[], object], out: EvidenceFile) -> None:
    out.write(json_bytes(fetch()))


def _logs(
    client: docker.DockerClient, ref: str, tail: int | Literal["all"], out: EvidenceFile
) -> None:
    """Stdout and stderr as the engine interleaves them, each line with its timestamp, streamed."""
    stream = client.api.logs(
        ref, stdout=True, stderr=True, stream=True, timestamps=True, tail=tail, follow=False
    )
    try:
        for chunk in stream:
            out.write(chunk)
    finally:
        stream.close()


def export_filesystem(client: docker.DockerClient, ref: str, out: EvidenceFile) -> None:
    """Stream the filesystem tar to disk; past the cap, stop reading and close the connection.

    The SDK's `export` generator cannot be closed early without leaking its connection, so
    this asks the same endpoint through the SDK's own session.
    """
    api = client.api
    url = f"{api.base_url}/v{api.api_version}/containers/{ref}/export"
    with api.get(url, stream=True, timeout=api.timeout) as response:
        try:
            response.raise_for_status()
        except requests.exceptions.HTTPError as exc:
            docker.errors.create_api_error_from_http_exception(exc)
        for chunk in response.iter_content(chunk_size=_CHUNK):
            if not out.write(chunk):
                break


def commit_image(
    client: docker.DockerClient, evidence: EvidenceDir, now: Live, incident_id: str
) -> None:
    """An image of the container tagged with the incident; its id is its digest."""
    repository = f"{_REPOSITORY}/{_component(now.name) or now.short_id}"
    tag = _tag(incident_id)
    collected_at = utc_now()
    try:
        committed = client.api.commit(
            now.id,
            repository=repository,
            tag=tag,
            message=f"responder evidence for incident {incident_id}",
            author="responder",
        )
        image = client.images.get(committed["Id"]).attrs
    except docker.errors.APIError as exc:
        evidence.fail("commit", explain(exc))
        return
    digest = str(image["Id"]).removeprefix("sha256:")
    name = f"image:{repository}:{tag}"
    evidence.record(
        "commit",
        name,
        endpoint="POST /commit",
        sha256=digest,
        size=int(image["Size"]),
        collected_at=collected_at,
    )


def _component(name: str) -> str:
    """A container name as a repository path component: lower case, separators Docker allows."""
    lowered = name.lower()
    if _COMPONENT.fullmatch(lowered):
        return lowered
    return re.sub(r"[^a-z0-9]+", "-", lowered).strip("-")


def _tag(incident_id: str) -> str:
    lowered = incident_id.lower()
    return lowered if _TAG.fullmatch(lowered) else re.sub(r"[^\w.-]", "-", lowered)[:128]
