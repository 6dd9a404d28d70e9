"""Sealed segments of the audit trail: their names, finding them, reading them, writing one.

The active file is `DATA/audit.jsonl`; sealed segments live beside it in `DATA/audit/`, named
`audit-<first seq>-<last seq>.jsonl` (`.gz` when compressed), the seqs zero-padded so that
names sort in chain order. A segment is written to a dot-named temporary file, fsynced,
renamed into place and the directory fsynced: a crash leaves either no segment or a whole one.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import queue
import re
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from responder.audit._chain import split_lines

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from typing import BinaryIO

__all__ = [
    "AUDIT_FILE",
    "SEGMENT_DIR",
    "Segment",
    "fsync_dir",
    "read_segment",
    "remove_temporaries",
    "segment_dir",
    "segment_name",
    "segments",
    "write_segment",
]

AUDIT_FILE = "audit.jsonl"
SEGMENT_DIR = "audit"
_NAME = re.compile(r"audit-(\d{1,20})-(\d{1,20})\.jsonl(\.gz)?")
_CHUNK = 1 << 20
_ZCHUNK = 256 << 10  # compressed bytes inflated at a time: about 2.5 MiB of lines
_Item = bytes | Exception | None


@dataclass(frozen=True, slots=True)
class Segment:
    """One sealed segment: where it is, the seqs its name says it holds, its size on disk."""

    path: Path
    first: int
    last: int
    bytes: int
    mtime: float

    @property
    def name(self) -> str:
        """The file name, as records and reports name the segment."""
        return self.path.name


def segment_dir(active: Path) -> Path:
    """Where the sealed segments of the active file `active` live."""
    return active.parent / SEGMENT_DIR


def segment_name(first: int, last: int, *, compress: bool) -> str:
    """The name of a segment holding seqs first..last."""
    return f"audit-{first:012d}-{last:012d}.jsonl" + (".gz" if compress else "")


def segments(active: Path) -> list[Segment]:
    """The sealed segments beside the active file, in chain order (by first seq, then last)."""
    directory = segment_dir(active)
    found = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(directory):
            match = _NAME.fullmatch(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue  # temporary files of a rotation cut short, and anything else
            stat = entry.stat(follow_symlinks=False)
            first, last = int(match[1]), int(match[2])
            found.append(Segment(directory / entry.name, first, last, stat.st_size, stat.st_mtime))
    return sorted(found, key=lambda segment: (segment.first, segment.last, segment.name))


def _inflate(file: BinaryIO) -> Generator[bytes, None, None]:
    """The bytes of a gzip file, a large chunk at a time; EOFError when the stream is cut."""
    inflater, fed = zlib.decompressobj(wbits=31), False  # the trailer's CRC and size checked
    while chunk := file.read(_ZCHUNK):
        while chunk:
            fed = True
            yield inflater.decompress(chunk)
            if not inflater.eof:
                break
            chunk = inflater.unused_data  # another gzip member follows
            inflater, fed = zlib.decompressobj(wbits=31), False
    if fed:
        raise EOFError("the compressed stream ends before its end marker")


def _put(chunks: queue.Queue[_Item], item: _Item, stop: threading.Event) -> bool:
    """Queue an item unless the reader stopped; False when it did."""
    while not stop.is_set():
        try:
            chunks.put(item, timeout=0.1)
        except queue.Full:
            continue
        return True
    return False


def _inflate_ahead(file: BinaryIO) -> Generator[bytes, None, None]:
    """`_inflate` on a thread of its own: zlib lets go of the GIL, so lines are checked meanwhile."""
    chunks: queue.Queue[_Item] = queue.Queue(maxsize=4)
    stop = threading.Event()

    def produce() -> None:
        item: _Item = None
        try:
            for chunk in _inflate(file):
                if not _put(chunks, chunk, stop):
                    return
        except Exception as exc:  # noqa: BLE001 - handed to the reader, raised there
            item = exc
        _put(chunks, item, stop)

    thread = threading.Thread(target=produce, name="audit-inflate", daemon=True)
    thread.start()
    try:
        while (item := chunks.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def read_segment(segment: Path) -> Generator[bytes, None, None]:
    """Every line of a sealed segment, newline kept; gzip is read transparently, streaming.

    A gzip stream cut short raises EOFError (damage: zlib.error) after the lines that could be
    read.
    """
    with segment.open("rb") as file:
        if segment.name.endswith(".gz"):
            yield from split_lines(_inflate_ahead(file))
        else:
            yield from split_lines(iter(lambda: file.read(_CHUNK), b""))


def fsync_dir(directory: Path) -> None:
    """Make renames and removals in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy(fd: int, size: int, out: Callable[[bytes], object], active: Path) -> None:
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(_CHUNK, size - offset), offset)
        if not chunk:
            raise OSError(f"{active} ended at {offset} bytes while sealing {size}")
        out(chunk)
        offset += len(chunk)


def write_segment(
    fd: int, size: int, active: Path, seqs: tuple[int, int], *, compress: bool
) -> Path:
    """Copy the first `size` bytes of the open active file into a sealed segment, atomically."""
    directory = segment_dir(active)
    directory.mkdir(mode=0o700, exist_ok=True)
    final = directory / segment_name(*seqs, compress=compress)
    temporary = directory / f".{final.name}.tmp"
    with temporary.open("wb") as raw:
        os.fchmod(raw.fileno(), 0o600)
        if compress:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as packed:
                _copy(fd, size, packed.write, active)
        else:
            _copy(fd, size, raw.write, active)
        raw.flush()
        os.fsync(raw.fileno())
    temporary.replace(final)
    fsync_dir(directory)
    return final


def remove_temporaries(active: Path) -> None:
    """Remove temporary files a rotation cut short left behind (the caller holds the lock)."""
    directory = segment_dir(active)
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            if entry.name.startswith(".audit-") and entry.name.endswith(".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    Path(entry.path).unlink()
    with contextlib.suppress(FileNotFoundError):
        (active.parent / f".{active.name}.rotating").unlink()


def sealed_bytes(active: Path) -> int:
    """The bytes of every sealed segment beside the active file, together."""
    return sum(segment.bytes for segment in segments(active))
