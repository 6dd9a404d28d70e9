"""docker:snapshot: forensic evidence, most volatile first, hashed and listed in a manifest."""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import docker.errors
import requests.exceptions
from pydantic import ByteSize, Field, model_validator

from responder.actions._base import Action, ActionParams
from responder.actions._containers import explain, live, required
from responder.actions._evidence import EvidenceDir, json_bytes, utc_now
from responder.actions._results import StepOutcome
from responder.errors import PermanentError

if TYPE_CHECKING:
    from collections.abc import Callable

    from responder.actions._containers import Live
    from responder.actions._evidence import EvidenceFile
    from responder.actions._results import ActionContext
    from responder.containers import ContainerInfo

__all__ = ["Snapshot", "SnapshotParams"]

_CHUNK = 1 << 20
_PARTS = ("top", "inspect", "logs", "diff", "export", "commit")
_REPOSITORY = "responder-evidence"
# Docker's grammar for one path component of a repository, and for a tag.
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"\w[\w.-]{0,127}")


class SnapshotParams(ActionParams):
    """Which evidence to take, most volatile first, and how much of it."""

    top: bool = Field(default=True, description="processes, as `docker top` lists them")
    inspect: bool = Field(default=True, description="the container's full `inspect` document")
    logs: bool = Field(default=True, description="stdout/stderr with timestamps")
    log_tail: int | None = Field(default=None, ge=1, description="only the last N log lines")
    diff: bool = Field(default=True, description="filesystem changes against the image")
    export: bool = Field(default=False, description="the whole filesystem as a tar, streamed")
    commit: bool = Field(default=False, description="an image tagged with the incident id")
    max_bytes: ByteSize = Field(
        default=ByteSize(2 << 30), description="cap on the export; larger is cut and marked"
    )

    @model_validator(mode="after")
    def _something_selected(self) -> Self:
        if not any(getattr(self, part) for part in _PARTS):
            raise ValueError(f"select at least one of {', '.join(_PARTS)}")
        return self


class Snapshot(Action):
    """Forensic evidence with a hashed manifest."""

    name: ClassVar[str] = "docker:snapshot"
    summary: ClassVar[str] = (
        "forensic evidence, most volatile first (top, inspect, logs, diff, export/commit), "
        "with a sha256 manifest"
    )
    undo: ClassVar[str] = "nothing: evidence is kept"
    changes_container: ClassVar[bool] = False
    params: ClassVar[type[ActionParams]] = SnapshotParams

    def describe(self, params: SnapshotParams, target: str | None) -> str:
        """List the parts it takes."""
        parts = [n for n in _PARTS if getattr(params, n)]
        return f"snapshot {target}: {', '.join(parts) or 'nothing selected'}"

    async def run(
        self, ctx: ActionContext, params: SnapshotParams, container: ContainerInfo | None
    ) -> StepOutcome:
        """Collect into `ctx.evidence_dir`; a dry-run takes the read-only parts only."""
        ref = required(container, self.name).id
        return await ctx.engine.run(partial(self._collect, ctx, params, ref))

    def _collect(
        self, ctx: ActionContext, params: SnapshotParams, ref: str, client: docker.DockerClient
    ) -> StepOutcome:
        with EvidenceDir(ctx.evidence_dir, self.name) as evidence:
            started = utc_now()
            now = live(client, ref)
            _read_only_parts(client, evidence, params, now)
            held = [part for part in ("export", "commit") if getattr(params, part) and ctx.dry_run]
            if params.export and not ctx.dry_run:
                export = partial(_export, client, now.id)
                endpoint = "GET /containers/{id}/export"
                evidence.collect("export", "export.tar", endpoint, export, cap=params.max_bytes)
            if params.commit and not ctx.dry_run:
                _commit(client, evidence, now, ctx.incident_id)
            header = _header(ctx, now, started, held)
            manifest, digest = evidence.write_manifest(header)
        if evidence.errors and not evidence.artifacts:
            raise PermanentError(f"snapshot of {now.name} collected nothing: {_failures(evidence)}")
        return StepOutcome(
            status="would" if ctx.dry_run else "done",
            detail=_detail(evidence, now, held, dry_run=ctx.dry_run),
            artifacts=tuple(evidence.artifacts),
            data={"manifest": str(manifest), "manifest_sha256": digest, "errors": evidence.errors},
        )


def _read_only_parts(
    client: docker.DockerClient, evidence: EvidenceDir, params: SnapshotParams, now: Live
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


def _export(client: docker.DockerClient, ref: str, out: EvidenceFile) -> None:
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


def _commit(
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


def _header(ctx: ActionContext, now: Live, started: str, held: list[str]) -> dict[str, Any]:
    config = now.attrs.get("Config") or {}
    return {
        "incident_id": ctx.incident_id,
        "collected_by": Snapshot.name,
        "dry_run": ctx.dry_run,
        "started_at": started,
        "finished_at": utc_now(),
        "container": {
            "id": now.id,
            "name": now.name,
            "image": config.get("Image"),
            "image_id": now.attrs.get("Image"),
            "status": now.status,
        },
        "versions": ctx.versions,
        "not_collected": dict.fromkeys(held, "dry-run"),
    }


def _failures(evidence: EvidenceDir) -> str:
    return "; ".join(f"{e['part']} ({e['error']})" for e in evidence.errors)


def _detail(evidence: EvidenceDir, now: Live, held: list[str], *, dry_run: bool) -> str:
    parts = [
        f"{a.kind} (cut at {a.size} bytes)" if a.truncated else a.kind for a in evidence.artifacts
    ]
    taken = ", ".join(parts) or "nothing"
    text = f"snapshot of {now.name}: {taken} saved in {evidence.path}"
    if dry_run:
        text = f"dry-run {text}"
    if held:
        text += f"; would {' and '.join(held)} (not in a dry-run)"
    if evidence.errors:
        text += f"; not collected: {_failures(evidence)}"
    return text
