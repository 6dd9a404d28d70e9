"""Evidence on disk: private files hashed while written, capped, and listed in a manifest."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

import docker.errors

from responder.actions._containers import explain
from responder.actions._results import Artifact
from responder.errors import PermanentError, TransientError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from types import TracebackType

__all__ = [
    "EvidenceDir",
    "EvidenceFile",
    "EvidenceWriteError",
    "json_bytes",
    "private_dir",
    "utc_now",
]

_DIR_MODE = 0o700
_FILE_MODE = 0o600


class EvidenceWriteError(PermanentError):
    """The evidence could not be written here (disk full, permissions): not the engine's fault."""


def utc_now() -> str:
    """Now, UTC, ISO 8601."""
    return datetime.now(UTC).isoformat()


def private_dir(path: Path) -> None:
    """Create `path` if need be, readable by this user only."""
    try:
        path.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        path.chmod(_DIR_MODE)
    except OSError as exc:
        raise EvidenceWriteError(f"cannot use evidence directory {path}: {exc}") from exc


class EvidenceFile:
    """One file being written: hashed as it goes, cut at `cap`, moved into place only when whole.

    Until it is complete it lives under a hidden temporary name, so a file with the final name
    always matches the hash recorded for it.
    """

    def __init__(self, path: Path, cap: int | None = None) -> None:
        self.path = path
        self._cap = cap
        self._partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
        self._hash = hashlib.sha256()
        self._fd = -1
        self.size = 0
        self.truncated = False

    @property
    def sha256(self) -> str:
        """Hex digest of what was written so far."""
        return self._hash.hexdigest()

    def __enter__(self) -> Self:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        try:
            self._fd = os.open(self._partial, flags, _FILE_MODE)
        except OSError as exc:
            raise EvidenceWriteError(f"cannot create {self._partial}: {exc}") from exc
        return self

    def write(self, data: bytes) -> bool:
        """Append `data` (up to the cap); False once the cap is reached and more was offered."""
        if self._cap is not None and self.size + len(data) > self._cap:
            data = data[: self._cap - self.size]
            self.truncated = True
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            raise EvidenceWriteError(f"cannot write {self.path}: {exc}") from exc
        self._hash.update(data)
        self.size += len(data)
        return not self.truncated

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        del exc, tb
        if kind is not None:  # failed half-way: no file with the final name, no partial file
            with contextlib.suppress(OSError):
                os.close(self._fd)
            with contextlib.suppress(OSError):
                self._partial.unlink()
            return
        try:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
            self._partial.replace(self.path)
        except OSError as error:
            with contextlib.suppress(OSError):
                self._partial.unlink()
            raise EvidenceWriteError(f"cannot write {self.path}: {error}") from error


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


def json_bytes(document: object) -> bytes:
    """JSON as written into evidence files: indented, UTF-8, newline at the end."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
