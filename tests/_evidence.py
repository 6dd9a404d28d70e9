"""Checks of a snapshot's evidence on disk: each file and the manifest against their hashes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from responder.actions import StepOutcome

__all__ = ["check_manifest", "manifest_of", "sha256_of"]


def sha256_of(path: Path) -> str:
    """The file's digest, read back from disk."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_of(data: dict[str, Any]) -> dict[str, Any]:
    """The manifest a snapshot wrote, from the path its outcome names."""
    document: dict[str, Any] = json.loads(Path(data["manifest"]).read_bytes())
    return document


def check_manifest(evidence_dir: Path, outcome: StepOutcome) -> dict[str, Any]:
    """The manifest of `outcome`, checked: on disk with its hash, listing every artifact.

    Every file it lists re-hashes to its sha256 and size.
    """
    manifest_path = evidence_dir / "manifest.json"
    assert outcome.data["manifest"] == str(manifest_path)
    assert sha256_of(manifest_path) == outcome.data["manifest_sha256"]
    manifest = manifest_of(outcome.data)
    assert manifest["artifacts"] == [a.model_dump(mode="json") for a in outcome.artifacts]
    for artifact in outcome.artifacts:
        path = evidence_dir / artifact.name
        assert sha256_of(path) == artifact.sha256
        assert path.stat().st_size == artifact.size
    return manifest
