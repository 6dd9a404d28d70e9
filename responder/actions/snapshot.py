"""docker:snapshot: forensic evidence, most volatile first, hashed and listed in a manifest."""

from __future__ import annotations

import contextlib
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import ByteSize, Field, model_validator

from responder.actions._base import Action, ActionParams
from responder.actions._containers import live, required
from responder.actions._evidence import EvidenceDir
from responder.actions._evidence_file import EvidenceWriteError, utc_now
from responder.actions._results import StepOutcome
from responder.actions._snapshot_parts import commit_image, export_filesystem, read_only_parts
from responder.engine import classify
from responder.errors import PermanentError, ResponderError

if TYPE_CHECKING:
    import docker

    from responder.actions._containers import Live
    from responder.actions._results import ActionContext
    from responder.engine import ContainerInfo

__all__ = ["Snapshot", "SnapshotParams"]

_PARTS = ("top", "inspect", "logs", "diff", "export", "commit")
# The files a snapshot writes, and their kind: those an earlier attempt left are listed too.
_FILES = {
    "top.json": "top",
    "inspect.json": "inspect",
    "logs.txt": "logs",
    "diff.json": "diff",
    "export.tar": "export",
}


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
        """Collect into `ctx.evidence_dir`; a dry-run takes the read-only parts only.

        An attempt that gives up half-way still writes the manifest of what is on disk, and
        its error carries that as `kept`, so the failed step lists the evidence it leaves.
        """
        ref = required(container, self.name).id
        kept: list[StepOutcome] = []
        try:
            return await ctx.engine.run(partial(self._collect, ctx, params, ref, kept))
        except ResponderError as exc:
            if kept:
                exc.kept = kept[-1]
            raise

    def _collect(
        self,
        ctx: ActionContext,
        params: SnapshotParams,
        ref: str,
        kept: list[StepOutcome],
        client: docker.DockerClient,
    ) -> StepOutcome:
        with EvidenceDir(ctx.evidence_dir, self.name) as evidence:
            started = utc_now()
            now: Live | None = None
            held = [part for part in ("export", "commit") if getattr(params, part) and ctx.dry_run]
            try:
                now = live(client, ref)
                read_only_parts(client, evidence, params, now)
                if params.export and not ctx.dry_run:
                    export = partial(export_filesystem, client, now.id)
                    endpoint = "GET /containers/{id}/export"
                    evidence.collect("export", "export.tar", endpoint, export, cap=params.max_bytes)
                if params.commit and not ctx.dry_run:
                    commit_image(client, evidence, now, ctx.incident_id)
            except Exception as exc:
                # The error that stopped it is the one to report, even if this fails too.
                with contextlib.suppress(EvidenceWriteError, OSError):
                    evidence.adopt(_FILES)
                    if evidence.artifacts:
                        header = _header(ctx, now, ref, started, held)
                        kept.append(_gave_up(evidence, header, exc))
                raise
            evidence.adopt(_FILES)
            manifest, digest = evidence.write_manifest(_header(ctx, now, ref, started, held))
        if evidence.errors and not evidence.artifacts:
            raise PermanentError(f"snapshot of {now.name} collected nothing: {_failures(evidence)}")
        return StepOutcome(
            status="would" if ctx.dry_run else "done",
            detail=_detail(evidence, now, held, dry_run=ctx.dry_run),
            artifacts=tuple(evidence.artifacts),
            data={"manifest": str(manifest), "manifest_sha256": digest, "errors": evidence.errors},
        )


def _gave_up(evidence: EvidenceDir, header: dict[str, Any], exc: Exception) -> StepOutcome:
    """Write the manifest of what is on disk after a failure; what the failed step keeps."""
    why = str(classify(exc))
    evidence.fail("snapshot", f"gave up: {why}")
    manifest, digest = evidence.write_manifest(header)
    return StepOutcome(
        status="failed",
        detail=f"kept {len(evidence.artifacts)} file(s) of a snapshot that gave up ({why})",
        artifacts=tuple(evidence.artifacts),
        data={"manifest": str(manifest), "manifest_sha256": digest, "errors": evidence.errors},
    )


def _header(
    ctx: ActionContext, now: Live | None, ref: str, started: str, held: list[str]
) -> dict[str, Any]:
    config = (now.attrs.get("Config") or {}) if now else {}
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
        }
        if now
        else {"id": ref},
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
