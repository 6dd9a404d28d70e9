"""The hash chain: the canonical line form, sealing a record, and reading a file's lines.

Each line is the canonical JSON of one record: `seq` (1-based, consecutive), `time`, `kind`,
the record's own fields, `prev` (the previous line's `hash`; 64 zeros on the first line) and
`hash`, the sha256 of the canonical JSON of the record without `hash`. Editing, removing,
inserting or reordering a line breaks the chain at that point. What the file alone cannot show is
a tail cut off after the last line, or a chain rewritten and re-hashed from some point on: compare
the head hash with one noted earlier (`expect_head`) to catch those.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator, Mapping
    from pathlib import Path
    from typing import BinaryIO

    from responder.audit._fields import AuditValue

__all__ = [
    "GENESIS",
    "RESERVED",
    "NotARecordError",
    "canonical",
    "digest",
    "parse_line",
    "read_lines",
    "seal",
    "split_lines",
]

GENESIS = "0" * 64
RESERVED = frozenset({"seq", "time", "kind", "prev", "hash"})
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


def canonical(record: Mapping[str, AuditValue]) -> str:
    """The one text form of a record that is hashed and written: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def digest(text: str) -> str:
    """The sha256 hex digest of the text's UTF-8 bytes."""
    return hashlib.sha256(text.encode()).hexdigest()


def seal(
    seq: int, time: str, kind: str, fields: Mapping[str, AuditValue], prev: str
) -> tuple[str, str]:
    """The written line (newline included) and its hash, for a record following `prev`.

    The record is serialised once, in two halves: the keys sorted before "hash" and those
    after. Joined, they are the canonical form that is hashed; with the hash between them,
    the canonical form of the sealed record (sorted keys put "hash" exactly there).
    """
    record: dict[str, AuditValue] = {**fields, "seq": seq, "time": time, "kind": kind, "prev": prev}
    before = canonical({key: value for key, value in record.items() if key < "hash"})[1:-1]
    after = canonical({key: value for key, value in record.items() if key > "hash"})[1:-1]
    hashed = digest("{" + ",".join(part for part in (before, after) if part) + "}")
    sealed = ",".join(part for part in (before, f'"hash":"{hashed}"', after) if part)
    return "{" + sealed + "}\n", hashed


class NotARecordError(ValueError):
    """A line that is not an audit record at all; the message says what is wrong with it."""


def parse_line(raw: bytes) -> dict[str, Any]:
    """One line as a record with well-typed reserved keys, or NotARecordError saying why not."""
    try:
        record = json.loads(raw)
    except ValueError as exc:  # undecodable bytes as well as bad JSON
        raise NotARecordError(f"not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise NotARecordError("not a JSON object")
    missing = sorted(RESERVED - record.keys())
    if missing:
        raise NotARecordError(f"missing {', '.join(missing)}")
    seq = record["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise NotARecordError("seq is not a positive integer")
    if not isinstance(record["time"], str) or not isinstance(record["kind"], str):
        raise NotARecordError("time or kind is not a string")
    for key in ("prev", "hash"):
        if not isinstance(record[key], str) or not _HEX64.fullmatch(record[key]):
            raise NotARecordError(f"{key} is not a sha256 hex digest")
    return record


def read_lines(path: Path) -> Generator[bytes, None, None]:
    """Every line of the file as it stood when reading began, newline kept; streams large files.

    Writers append whole batches under an exclusive lock, so the size read under a shared lock
    ends on a line boundary: a batch being written meanwhile is not half-read as a torn line.
    """
    with path.open("rb") as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_SH)
        try:
            size = file.seek(0, 2)
        finally:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)
        file.seek(0)
        yield from split_lines(_chunks(file, size))


def _chunks(file: BinaryIO, size: int) -> Generator[bytes, None, None]:
    while size > 0:
        chunk = file.read(min(_CHUNK, size))
        if not chunk:
            return
        size -= len(chunk)
        yield chunk


def split_lines(chunks: Iterator[bytes]) -> Generator[bytes, None, None]:
    """The lines of a stream of chunks, newline kept (a last line without one as it is)."""
    rest = b""
    for chunk in chunks:
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        yield from [part + b"\n" for part in parts]
    if rest:
        yield rest
