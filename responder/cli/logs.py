r"""The service's log: one line per record, whatever alert text the record's arguments hold.

Log arguments quote container names, rule names, outputs and error texts, all written by the
attacker. A line break in one would start a line that reads like a record of its own
(`2026-12-06 23:59:59,000 CRITICAL responder: ...`); so the formatter shows every control, line
break, bidi and invisible character of the message as an escape (`\n`, `\x1b`, `\u2028`). A
traceback still follows its record, each of its lines indented (so none starts like a record),
and each exception's own text, which may quote the alert too, on one line.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import TYPE_CHECKING, TextIO

from responder.text import escape_controls

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["FORMAT", "OneLineFormatter", "configure_logging", "one_line_last_resort"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_INDENT = "    "
_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"
_MAX_GROUP_DEPTH = 10


class OneLineFormatter(logging.Formatter):
    """A record is one line; its traceback and stack, if any, follow it indented."""

    def format(self, record: logging.LogRecord) -> str:
        """The record's line, then the lines of its traceback and stack."""
        record.message = escape_controls(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        lines = [self.formatMessage(record)]
        if record.exc_info and record.exc_info[1] is not None:
            lines += _exception_lines(record.exc_info[1])
        elif record.exc_text:
            lines += record.exc_text.splitlines()
        if record.stack_info:
            lines += record.stack_info.splitlines()
        return "\n".join([lines[0], *(_INDENT + escape_controls(line) for line in lines[1:])])


def _exception_lines(exc: BaseException) -> list[str]:
    """The traceback as Python prints it, but each exception's text on one line."""
    return list(_chain(traceback.TracebackException.from_exception(exc), 0))


def _chain(top: traceback.TracebackException, depth: int) -> Iterator[str]:
    """Causes first, as Python prints them (TracebackException has guarded against cycles)."""
    links: list[tuple[str | None, traceback.TracebackException]] = []
    current: traceback.TracebackException | None = top
    while current is not None:
        if current.__cause__ is not None:
            links.append((_CAUSE, current))
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            links.append((_CONTEXT, current))
            current = current.__context__
        else:
            links.append((None, current))
            current = None
    for note, item in reversed(links):
        if note is not None:
            yield note
        yield from _one(item, depth)


def _one(item: traceback.TracebackException, depth: int) -> Iterator[str]:
    """One exception: its frames (our code), then its text (maybe the alert's) as one line."""
    if item.stack:
        yield "Traceback (most recent call last):"
        for frame in item.stack.format():
            yield from frame.rstrip("\n").split("\n")
    yield escape_controls("".join(item.format_exception_only()).rstrip("\n"))
    # An exception group's members, indented one more step each.
    if item.exceptions and depth < _MAX_GROUP_DEPTH:
        for number, member in enumerate(item.exceptions, 1):
            yield f"  [{number}/{len(item.exceptions)}] of the group:"
            yield from (f"  {line}" for line in _chain(member, depth + 1))


def configure_logging(level: int | str, stream: TextIO | None = None) -> logging.Handler:
    """Log to `stream` (stderr) at `level`, one line per record; returns the handler.

    Calling it again replaces the handler it added before; other handlers are left alone.
    """
    root = logging.getLogger()
    for handler in root.handlers[:]:
        if isinstance(handler, _ServiceHandler):
            root.removeHandler(handler)
    handler = _ServiceHandler(stream)
    handler.setFormatter(OneLineFormatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def one_line_last_resort() -> None:
    """One line per record from Python's last-resort handler too.

    Commands other than `serve` configure no logging: their warnings (a container that cannot
    be looked up, quoting the alert's reference) go to stderr through that handler.
    """
    if logging.lastResort is not None:
        logging.lastResort.setFormatter(OneLineFormatter())


class _ServiceHandler(logging.StreamHandler[TextIO]):
    """The handler `configure_logging` adds, so that a second call can find it.

    Without a stream of its own it writes to whatever `sys.stderr` is when a record comes, as
    Python's last-resort handler does: a stderr replaced and closed since (by an embedding
    program, or a test harness capturing output) is never written to.
    """

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self._follows_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record to the stream, the current `sys.stderr` if none was given."""
        if self._follows_stderr:
            self.stream = sys.stderr  # under the handler's lock: `handle` holds it around emit
        super().emit(record)
