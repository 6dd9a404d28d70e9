"""One evidence file: private, hashed while written, capped, moved into place only when whole."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self

from responder.errors import PermanentError

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

__all__ = [
    "EvidenceFile",
    "EvidenceWriteError",
    "hash_file",
    "json_bytes",
    "private_dir",
    "utc_now",
]

_DIR_MODE = 0o700
_FILE_MODE = 0o600
_HASH_CHUNK = 1 << 20


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


def hash_file(path: Path) -> tuple[str, int]:
    """sha256 and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def json_bytes(document: object) -> bytes:
    """JSON as written into evidence files: indented, UTF-8, newline at the end."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
