"""The incident's evidence directory: one snapshot at a time, every file listed in a manifest."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

import docker.errors

from responder.actions._containers import explain
from responder.actions._evidence_file import (
    EvidenceFile,
    EvidenceWriteError,
    hash_file,
    json_bytes,
    private_dir,
    utc_now,
)
from responder.actions._results import Artifact
from responder.errors import TransientError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

__all__ = ["EvidenceDir"]


class EvidenceDir:
    """The incident's evidence directory (mode 0700), locked while one snapshot writes into it.

    A step that timed out may still be writing in its thread when the retry starts; the lock
    makes the retry wait (as a transient fault) instead of writing the same files at once.
    """

    def __init__(self, path: Path, collector: str) -> None:
        self.path = path
        self._collector = collector
        self._fd = -1
        self.artifacts: list[Artifact] = []
        self.errors: list[dict[str, str]] = []

    def __enter__(self) -> Self:
        private_dir(self.path)
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise EvidenceWriteError(f"cannot use evidence directory {self.path}: {exc}") from exc
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise TransientError(f"an earlier snapshot is still writing into {self.path}") from None
        return self

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(OSError):
            os.fsync(self._fd)  # the renames into the directory are durable too
        os.close(self._fd)  # closing releases the lock

    def collect(
        self,
        kind: str,
        name: str,
        endpoint: str,
        produce: Callable[[EvidenceFile], None],
        *,
        cap: int | None = None,
    ) -> None:
        """Write one part; an engine error or a write error is recorded, not raised."""
        collected_at = utc_now()
        try:
            with EvidenceFile(self.path / name, cap) as out:
                produce(out)
        except docker.errors.APIError as exc:
            self.fail(kind, explain(exc))
            return
        except EvidenceWriteError as exc:
            self.fail(kind, str(exc))
            return
        self.record(
            kind,
            name,
            endpoint=endpoint,
            sha256=out.sha256,
            size=out.size,
            collected_at=collected_at,
            truncated=out.truncated,
        )

    def record(
        self,
        kind: str,
        name: str,
        *,
        endpoint: str,
        sha256: str,
        size: int,
        collected_at: str,
        truncated: bool = False,
    ) -> None:
        """List one artifact, with the action and the API call that collected it."""
        self.artifacts.append(
            Artifact(
                name=name,
                kind=kind,
                sha256=sha256,
                size=size,
                collected_at=collected_at,
                collected_by=f"{self._collector} ({endpoint})",
                truncated=truncated,
            )
        )

    def fail(self, kind: str, error: str) -> None:
        """Record a part that could not be collected."""
        self.errors.append({"part": kind, "error": error})

    def adopt(self, files: Mapping[str, str]) -> None:
        """List the evidence files (name -> kind) an earlier attempt left and this one did not.

        An attempt that gave up (the engine went away mid-export) or timed out leaves whole
        files behind; the next attempt may not get as far. Each is listed as the manifest of
        the attempt that wrote it recorded it, when that manifest is here and the file still
        has its hash; otherwise as found, hashed now.
        """
        mine = {artifact.name for artifact in self.artifacts}
        earlier = self._earlier_artifacts()
        for name, kind in files.items():
            path = self.path / name
            if name in mine or not path.is_file():
                continue
            try:
                sha256, size = hash_file(path)
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
            except OSError:
                continue  # unreadable now: it cannot be vouched for, so it is not listed
            known = earlier.get(name)
            if known is not None and (known.sha256, known.size) == (sha256, size):
                self.artifacts.append(known)
                continue
            endpoint = "an earlier attempt; hashed when listed"
            self.record(
                kind, name, endpoint=endpoint, sha256=sha256, size=size, collected_at=modified
            )

    def _earlier_artifacts(self) -> dict[str, Artifact]:
        """The artifacts the manifest already here lists (none when it is missing or unreadable)."""
        try:
            document = json.loads((self.path / "manifest.json").read_bytes())
            return {
                artifact.name: artifact
                for artifact in (Artifact.model_validate(a) for a in document["artifacts"])
            }
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def write_manifest(self, header: dict[str, Any]) -> tuple[Path, str]:
        """Write `manifest.json` (header, artifacts, errors); its path and its sha256."""
        document = {
            **header,
            "artifacts": [artifact.model_dump(mode="json") for artifact in self.artifacts],
            "errors": self.errors,
        }
        with EvidenceFile(self.path / "manifest.json") as out:
            out.write(json_bytes(document))
        return out.path, out.sha256
