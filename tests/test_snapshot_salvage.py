"""A snapshot that gives up half-way still lists, hashes and reports what it leaves on disk.

The engine is the real one behind tests/_faults.DockerProxy, which goes away on cue: in the
middle of the export's answer, or at the snapshot's first inspect of the container.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from _evidence import check_manifest
from _faults import DockerProxy

from responder.actions import StepOutcome
from responder.actions.snapshot import Snapshot, SnapshotParams
from responder.engine import DockerSettings, SdkEngine
from responder.errors import Leftovers, TransientError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from _docker import Resources

    from responder.actions import ActionContext

pytestmark = pytest.mark.docker

READ_ONLY = ["top", "inspect", "logs", "diff"]
EXPORT = b"/export "
EXPORT_CUT = 1 << 19
"""Half a megabyte of the export's answer reaches the snapshot (the test image's is about 2 MB)."""


def inspect_of(container_id: str) -> bytes:
    """The request line of an inspect of this container: the snapshot's first call."""
    return f"/containers/{container_id}/json ".encode()


@pytest.fixture
async def proxy(tmp_path: Path) -> AsyncIterator[DockerProxy]:
    """The real engine behind a proxy that can go away."""
    async with DockerProxy(tmp_path / "docker.sock") as proxy:
        yield proxy


@pytest.fixture
async def engine(proxy: DockerProxy) -> AsyncIterator[SdkEngine]:
    """The action context's engine (conftest's `ctx`), reached through the proxy."""
    seam = SdkEngine(DockerSettings(url=proxy.url))
    yield seam
    await seam.close()


def check_kept(ctx: ActionContext, kept: Leftovers | None) -> dict[str, Any]:
    """The manifest `kept` names, checked; and no partial file or export is left."""
    assert isinstance(kept, StepOutcome)
    manifest = check_manifest(ctx.evidence_dir, kept)
    assert not list(ctx.evidence_dir.glob(".*.partial"))
    assert "export.tar" not in {p.name for p in ctx.evidence_dir.iterdir()}
    return manifest


async def test_a_snapshot_that_gives_up_mid_export_lists_what_it_kept(
    ctx: ActionContext, resources: Resources, proxy: DockerProxy
) -> None:
    """Regression: the files taken before the engine went away had no manifest, no report line."""
    container = resources.container()
    proxy.cut_on(EXPORT, after=EXPORT_CUT)
    with pytest.raises(TransientError, match="Docker engine unreachable") as raised:
        await Snapshot().run(ctx, SnapshotParams(export=True), resources.info(container.id))
    assert proxy.cut.is_set()  # the engine went away mid-export, not before it
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
    ctx: ActionContext, resources: Resources, proxy: DockerProxy
) -> None:
    """The retry fails before collecting anything: the first attempt's files stay listed."""
    container = resources.container()
    proxy.cut_on(EXPORT, after=EXPORT_CUT)
    with pytest.raises(TransientError) as first:
        await Snapshot().run(ctx, SnapshotParams(export=True), resources.info(container.id))
    assert first.value.kept is not None
    earlier = first.value.kept.artifacts

    await proxy.start()  # the engine is back, and goes away again at the retry's first call
    proxy.cut_on(inspect_of(container.id))
    with pytest.raises(TransientError) as second:
        await Snapshot().run(ctx, SnapshotParams(export=True), resources.info(container.id))
    kept = second.value.kept
    assert kept is not None
    assert kept.artifacts == earlier  # as the attempt that took them recorded them
    manifest = check_kept(ctx, kept)
    assert manifest["container"] == {"id": container.id}  # never seen by this attempt
    assert proxy.cut.is_set()


async def test_files_found_without_a_manifest_are_hashed_and_listed(
    ctx: ActionContext, resources: Resources, proxy: DockerProxy
) -> None:
    """An attempt killed before it wrote any manifest (kill -9, a timeout) left whole files."""
    container = resources.container()
    ctx.evidence_dir.mkdir(parents=True)
    (ctx.evidence_dir / "logs.txt").write_bytes(b"left by an attempt that never finished\n")
    (ctx.evidence_dir / "isolate.json").write_text("{}")  # not evidence: never listed
    proxy.cut_on(inspect_of(container.id))
    with pytest.raises(TransientError) as raised:
        await Snapshot().run(ctx, SnapshotParams(), resources.info(container.id))
    assert proxy.cut.is_set()
    kept = raised.value.kept
    assert kept is not None
    [logs] = kept.artifacts
    assert (logs.name, logs.kind) == ("logs.txt", "logs")
    assert logs.collected_by == "docker:snapshot (an earlier attempt; hashed when listed)"
    check_kept(ctx, kept)


async def test_a_snapshot_that_gives_up_before_collecting_anything_keeps_nothing(
    ctx: ActionContext, resources: Resources, proxy: DockerProxy
) -> None:
    """No file, no manifest: the error is the engine's, with nothing to list."""
    container = resources.container()
    proxy.cut_on(inspect_of(container.id))
    with pytest.raises(TransientError, match="Docker engine unreachable") as raised:
        await Snapshot().run(ctx, SnapshotParams(), resources.info(container.id))
    assert proxy.cut.is_set()
    assert raised.value.kept is None
    assert not (ctx.evidence_dir / "manifest.json").exists()
