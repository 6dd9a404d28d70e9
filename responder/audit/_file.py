"""The audit file itself: appending sealed lines under a lock, and noticing what changed it."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from typing import TYPE_CHECKING

from responder.audit._chain import GENESIS, seal
from responder.audit._entry import Anchor, Entry, now, write_all
from responder.audit._rotate import Rotation, first_record, utc_now
from responder.audit._tail import cut_torn_tail, last_line_head

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from pathlib import Path

    from pydantic import JsonValue

    from responder.audit._settings import AuditSettings

__all__ = ["Anchor", "ChainFile", "Entry", "now"]

log = logging.getLogger(__name__)

_OPEN_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC


class ChainFile:
    """The chain as this process last left the file; every write takes the file's lock.

    Other processes (`responder release`) append to the same file: a size other than the one
    this writer left means the chain's head is read again from the last line. A file that
    shrank, a torn last line, or a recorded head past the end of the file is noted in the
    chain, ahead of the next batch.
    """

    def __init__(
        self,
        path: Path,
        *,
        anchor: Anchor | None,
        on_head: Callable[[int, str], None] | None,
        on_error: Callable[[], None],
        settings: AuditSettings | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.path = path
        self._rotation = Rotation(path, settings, clock) if settings is not None else None
        self._ino = -1  # the inode of the active file this writer last wrote
        self._first_seq: int | None = None  # that file's first seq: a rotated file has another
        self._anchor = anchor
        self._on_head = on_head
        self._on_error = on_error
        self._lock = threading.Lock()  # `head` is read from other threads
        # What this writer found wrong with the file, kept until a batch carrying it is written.
        self._notes: list[Entry] = []
        # A size of -1 makes the next batch read the file.
        self._size = -1
        self._seq = 0
        self._head = GENESIS
        self._reanchor = False  # the next head recorded replaces the anchor, even a lower one

    @property
    def head(self) -> tuple[int, str]:
        """The seq and hash of the last line written or found (0 and 64 zeros: none yet)."""
        with self._lock:
            return self._seq, self._head

    def write(self, entries: list[Entry]) -> None:
        """Append the entries (after any notes) as one write and one fsync, under the lock.

        The active file is sealed into a segment first when it is due; a file rotated away by
        another writer while this one waited for its lock is left for the new one.
        """
        while True:
            fd = os.open(self.path, _OPEN_FLAGS, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                ino = os.fstat(fd).st_ino
                if ino != self.path.stat().st_ino:
                    continue  # rotated away while we waited: open the new active file
                size = os.fstat(fd).st_size
                if size != self._size or ino != self._ino:  # another writer wrote since
                    size = self._catch_up(fd, size, rotated=self._ino not in (ino, -1))
                    self._ino = ino
                if (
                    self._rotation is not None
                    and self._rotation.due(size)
                    and self._rotate(fd, size)
                ):
                    continue
                if self._rotation is not None:
                    self._notes.extend(self._rotation.plan_pruning(self._anchor))
                entries = [*self._notes, *entries]
                if entries:
                    size = self._append(fd, size, entries)
                self._size = size
                if self._first_seq is None:  # the first lines of an empty file
                    self._found_first(fd, size)
                self._notes.clear()
                if self._rotation is not None:
                    self._rotation.prune(self._anchor, self._on_error)
            finally:
                os.close(fd)  # releases the lock
            return

    def _found_first(self, fd: int, size: int) -> bool:
        """Read the active file's first line; True when it is not the file this writer knew.

        Inode numbers are reused, so a file rotated in by another writer is told by its first
        seq: each new active file starts after the last one's.
        """
        first = first_record(fd, size)
        known = self._first_seq
        other = first is not None and known is not None and first[0] != known
        self._first_seq = first[0] if first is not None else None
        if self._rotation is not None:
            self._rotation.found(fd, size, first)
        return other

    def _rotate(self, fd: int, size: int) -> bool:
        """Seal the active file into a segment and start a new one; False: it could not be.

        A rotation that fails (a full disk) is tried again later; meanwhile lines are still
        appended to the active file, which only grows past `segment_bytes`.
        """
        assert self._rotation is not None  # noqa: S101 - only called with one
        try:
            seq, head, new_size = self._rotation.rotate(fd, size, self.head)
        except OSError as exc:
            why = "could not be rotated (tried again in a minute)"
            log.error("audit log %s %s: %s", self.path, why, exc)  # noqa: TRY400 - reason in it
            self._on_error()
            return False
        with self._lock:
            self._seq, self._head = seq, head
        self._size, self._ino, self._first_seq = new_size, self.path.stat().st_ino, seq
        self._anchor_head(force=False)
        return True

    def _append(self, fd: int, size: int, entries: list[Entry]) -> int:
        """Seal and write the entries after the chain's head; the file's new size."""
        seq, head, lines = self._seq, self._head, []
        for entry in entries:
            seq += 1
            line, head = seal(seq, entry.time, entry.kind, entry.fields, head)
            lines.append(line)
        data = "".join(lines).encode()
        try:
            write_all(fd, data)
            os.fsync(fd)
        except OSError:
            # A partial batch (a full disk) would leave a torn line that breaks every later one.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
        with self._lock:
            self._seq, self._head = seq, head
        self._anchor_head(force=self._reanchor)
        self._reanchor = False
        return size + len(data)

    def _anchor_head(self, *, force: bool) -> None:
        """Commit the head apart from the file (after the fsync: at worst the anchor lags)."""
        if self._on_head is not None:
            self._on_head(self._seq, self._head)
        if self._anchor is None:
            return
        try:
            if force:
                self._anchor.reset(self._seq, self._head)
            else:
                self._anchor.save(self._seq, self._head)
        except Exception as exc:  # noqa: BLE001 - the line is written; the anchor catches up next time
            log.warning("audit log %s: its head could not be recorded: %s", self.path, exc)
            self._on_error()

    def _catch_up(self, fd: int, size: int, *, rotated: bool) -> int:
        """Note a shrunk file, cut a torn tail, take the chain's head from the last line.

        The notes are written ahead of the batch: `audit.truncated` (lines removed while this
        writer ran, with the seq and hash it last wrote, which the file no longer proves) and
        `audit.recovered` (a torn line cut off, with its size and sha256).
        """
        rotated = self._found_first(fd, size) or rotated
        shrunk = size < self._size and not rotated  # a new active file is not a cut one
        if shrunk:  # writers only append: someone removed lines while we ran
            self._note_shrunk(size)
        torn = cut_torn_tail(fd, size)
        if torn is not None:
            size -= torn.removed_bytes
            log.warning(
                "audit log %s: removed a torn last line of %d bytes", self.path, torn.removed_bytes
            )
            self._notes.append(Entry(now(), "audit.recovered", torn.fields()))
        seq, head = last_line_head(fd, size, self.path)
        with self._lock:
            self._seq, self._head = seq, head
        if self._on_head is not None:
            self._on_head(seq, head)
        if not shrunk:
            self._check_anchor()
        self._size = size  # seen: a failed write must not note the same change twice
        return size

    def _note_shrunk(self, size: int) -> None:
        """`audit.truncated`: the file is shorter than this writer left it."""
        log.error("audit log %s shrank from %d to %d bytes", self.path, self._size, size)
        self._reanchor = True
        fields: dict[str, JsonValue] = {
            "from_bytes": self._size,
            "to_bytes": size,
            "last_seq": self._seq,
            "last_hash": self._head,
        }
        self._notes.append(Entry(now(), "audit.truncated", fields))

    def _check_anchor(self) -> None:
        """Note lines cut off the end while no writer watched: the anchored head is past the file.

        The note goes into the chain (`audit.truncated`, with the head the file no longer
        holds), and the anchor then follows the file again: the cut stays on record in it.
        """
        if self._anchor is None:
            return
        try:
            anchored = self._anchor.load()
        except Exception as exc:  # noqa: BLE001 - a store we cannot read must not stop the audit
            log.warning("audit log %s: its recorded head could not be read: %s", self.path, exc)
            return
        if anchored is None or anchored[0] <= self._seq:
            return
        log.error(
            "audit log %s ends at seq %d, but its recorded head is seq %d: lines were removed",
            self.path,
            self._seq,
            anchored[0],
        )
        self._notes.append(
            Entry(
                now(),
                "audit.truncated",
                {
                    "file_seq": self._seq,
                    "file_hash": self._head,
                    "last_seq": anchored[0],
                    "last_hash": anchored[1],
                    "found": "the recorded head is past the end of the file",
                },
            )
        )
        self._reanchor = True
