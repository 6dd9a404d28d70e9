"""A snapshot that gives up half-way still lists, hashes and reports what it leaves on disk."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests.exceptions
from _evidence import check_manifest

from responder.actions import StepOutcome
from responder.actions.snapshot import Snapshot, SnapshotParams
from responder.errors import Leftovers, TransientError

if TYPE_CHECKING:
    from _docker import Resources

    from responder.actions import ActionContext
    from responder.actions._evidence_file import EvidenceFile

pytestmark = pytest.mark.docker

READ_ONLY = ["top", "inspect", "logs", "diff"]


def engine_gone(*_: Any) -> None:
    """The engine's connection drops: what the SDK raises when dockerd stops."""
    raise requests.exceptions.ConnectionError("Connection aborted: the daemon stopped")


def export_then_engine_gone(_client: Any, _ref: str, out: EvidenceFile) -> None:
    """A megabyte of the export, then the connection drops."""
    out.write(b"\0" * (1 << 20))
    engine_gone()


def check_kept(ctx: ActionContext, kept: Leftovers | None) -> dict[str, Any]:
    """The manifest `kept` names, checked; and no partial file or export is left."""
    assert isinstance(kept, StepOutcome)
    manifest = check_manifest(ctx.evidence_dir, kept)
    assert not list(ctx.evidence_dir.glob(".*.partial"))
    assert "export.tar" not in {p.name for p in ctx.evidence_dir.iterdir()}
    return manifest


async def test_a_snapshot_that_gives_up_mid_export_lists_what_it_kept(
    ctx: ActionContext, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the files taken before the engine went away had no manifest, no report line."""
    container = resources.container()
    monkeypatch.setattr("responder.actions.snapshot.export_filesystem", export_then_engine_gone)
    with pytest.raises(TransientError, match="Docker engine unreachable") as raised:
        await Snapshot().run(ctx, SnapshotParams(export=True), resources.info(container.id))
    kept = raised.value.kept
    assert kept is not None
    assert [a.kind for a in kept.artifacts] == READ_ONLY
    manifest = check_kept(ctx, kept)
    assert manifest["container"]["id"] == resources.inspect(container.id)["Id"]
    [gave_up] = manifest["errors"]
    assert gave_up["part"] == "snapshot"
    assert gave_up["error"].startswith("gave up: Docker engine unreachable")
    assert kept.detail.startswith("kept 4 file(s) of a snapshot that gave up")


async def test_a_later_attempt_that_gets_less_far_still_lists_the_earlier_files(
    ctx: ActionContext, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry fails before collecting anything: the first attempt's files stay listed."""
    container = resources.container()
    monkeypatch.setattr("responder.actions.snapshot.export_filesystem", export_then_engine_gone)
    with pytest.raises(TransientError) as first:
        await Snapshot().run(ctx, SnapshotParams(export=True), resources.info(container.id))
    assert first.value.kept is not None
    earlier = first.value.kept.artifacts

    monkeypatch.setattr("responder.actions.snapshot.live", engine_gone)
    with pytest.raises(TransientError) as second:
        await Snapshot().run(ctx, SnapshotParams(export=True), resources.info(container.id))
    kept = second.value.kept
    assert kept is not None
    assert kept.artifacts == earlier  # as the attempt that took them recorded them
    manifest = check_kept(ctx, kept)
    assert manifest["container"] == {"id": container.id}  # never seen by this attempt


async def test_files_found_without_a_manifest_are_hashed_and_listed(
    ctx: ActionContext, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attempt killed before it wrote any manifest (kill -9, a timeout) left whole files."""
    container = resources.container()
    ctx.evidence_dir.mkdir(parents=True)
    (ctx.evidence_dir / "logs.txt").write_bytes(b"left by an attempt that never finished\n")
    (ctx.evidence_dir / "isolate.json").write_text("{}")  # not evidence: never listed
    monkeypatch.setattr("responder.actions.snapshot.live", engine_gone)
    with pytest.raises(TransientError) as raised:
        await Snapshot().run(ctx, SnapshotParams(), resources.info(container.id))
    kept = raised.value.kept
    assert kept is not None
    [logs] = kept.artifacts
    assert (logs.name, logs.kind) == ("logs.txt", "logs")
    assert logs.collected_by == "docker:snapshot (an earlier attempt; hashed when listed)"
    check_kept(ctx, kept)


async def test_a_snapshot_that_gives_up_before_collecting_anything_keeps_nothing(
    ctx: ActionContext, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No file, no manifest: the error is the engine's, with nothing to list."""
    container = resources.container()
    monkeypatch.setattr("responder.actions.snapshot.live", engine_gone)
    with pytest.raises(TransientError, match="Docker engine unreachable") as raised:
        await Snapshot().run(ctx, SnapshotParams(), resources.info(container.id))
    assert raised.value.kept is None
    assert not (ctx.evidence_dir / "manifest.json").exists()
