"""`responder audit verify|show`: check the audit trail's hash chain, or read its lines."""

from __future__ import annotations

import argparse
import collections
import fnmatch
import re
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from responder.audit import AUDIT_FILE, verify_chain
from responder.audit._chain import RESERVED, NotARecordError, parse_line, read_lines
from responder.audit._segments import read_segment, segments
from responder.cli._common import emit_json, settings_from
from responder.incidents import INCIDENTS_FILE, AuditAnchor

if TYPE_CHECKING:
    from collections.abc import Iterator

    from responder.audit import ChainReport
    from responder.cli._types import Subparsers

__all__ = ["register"]

_BROKEN = 1
_NO_FILE = 2
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")

_VERIFY_HELP = """\
Check every line of the audit trail: its hash matches its content, it follows the line before
it, and seq numbers are consecutive. Exit 0 when intact, 1 at the first break (FILE:LINE: why),
2 when the file does not exist.

The file alone cannot show lines cut off its end: the incident store records the head (seq and
hash) with every append, and the data directory's audit file must reach it, so a file cut short
or emptied is a break. A chain rewritten and re-hashed together with the store is caught only by
a head kept off the host: every message and report carries the head at its time, and
--expect-head HASH checks that such a head is still in the chain.
"""


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add `audit verify` and `audit show`."""
    parser = commands.add_parser(
        "audit", help="verify or read the audit trail", description=__doc__
    )
    actions = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        parents=[parent],
        help="check the hash chain; exit 1 at the first break",
        description=_VERIFY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _file_option(verify)
    verify.add_argument(
        "--expect-head",
        metavar="HASH",
        help="a head hash noted earlier; it must still be in the chain (catches a removed tail)",
    )
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(run=run_verify)
    show = actions.add_parser(
        "show", parents=[parent], help="print audit lines, newest last", description=__doc__
    )
    _file_option(show)
    show.add_argument("--kind", metavar="KIND", help="only this kind; globs work: 'incident.*'")
    show.add_argument("--incident", metavar="ID", help="only lines about this incident")
    show.add_argument("--limit", type=int, default=50, help="the last N lines (default 50)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(run=run_show)


def _file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--file", type=Path, metavar="PATH", help=f"the audit file (default DATA_DIR/{AUDIT_FILE})"
    )


def _audit_file(args: argparse.Namespace) -> Path | None:
    """The file to read, or None after saying that it does not exist."""
    path: Path = args.file or settings_from(args).data_dir / AUDIT_FILE
    if not path.is_file():
        sys.stderr.write(f"responder: no audit file at {path}\n")
        return None
    return path


_Point = tuple[int, str]


def _recorded_head(args: argparse.Namespace, path: Path) -> tuple[_Point | None, _Point | None]:
    """The head and the pruned point the incident store recorded for the data directory's trail."""
    data_dir = settings_from(args).data_dir
    store = data_dir / INCIDENTS_FILE
    if path.resolve() != (data_dir / AUDIT_FILE).resolve() or not store.is_file():
        return None, None
    anchor = AuditAnchor(store)
    try:
        return anchor.load(), anchor.load_pruned()
    except sqlite3.Error as exc:
        sys.stderr.write(f"responder: the recorded audit head could not be read: {exc}\n")
        return None, None
    finally:
        anchor.close()


def _report_json(path: Path, report: ChainReport) -> dict[str, Any]:
    broken = report.broken
    anchor = report.anchor
    return {
        "file": str(path),
        "intact": report.intact,
        "lines": report.lines,
        "last_seq": report.last_seq,
        "head": report.head,
        "files": report.files,
        "break": (
            {"file": broken.file or str(path), "line": broken.line, "reason": broken.reason}
            if broken
            else None
        ),
        "notes": list(report.notes),
        "expected_head": report.expected_head,
        "expected_line": report.expected_line,
        "recorded_head": {"seq": anchor[0], "hash": anchor[1]} if anchor else None,
        "recorded_head_line": report.anchor_line,
        "recorded_head_problem": report.anchor_problem,
    }


def _report_text(path: Path, report: ChainReport) -> None:
    out = sys.stdout
    for note in report.notes:
        out.write(f"note: {note}\n")
    if report.broken is not None:
        out.write(f"{report.broken.file or path}:{report.broken.line}: {report.broken.reason}\n")
        out.write(
            f"broken: {report.lines} lines before it are intact, "
            f"up to seq {report.last_seq} with hash {report.head}\n"
        )
        return
    problem = report.anchor_problem
    if problem is not None:
        out.write(f"{path}: {problem}\n")
        out.write(
            f"the {report.lines} lines there are chained intact, up to seq {report.last_seq}\n"
        )
        return
    files = f" in {report.files} files" if report.files > 1 else ""
    out.write(
        f"chain intact: {report.lines} lines{files}, last seq {report.last_seq}, "
        f"head {report.head}\n"
    )
    if report.anchor is not None:
        out.write(f"the recorded head (seq {report.anchor[0]}) is line {report.anchor_line}\n")
    if report.expected_head is None:
        return
    if report.expected_line is None:
        out.write(
            f"{path}: the expected head {report.expected_head} is not in the chain: "
            "lines were removed from the end, or the file was replaced\n"
        )
    else:
        after = report.lines - report.expected_line
        out.write(f"the expected head is line {report.expected_line}; {after} lines follow it\n")


def run_verify(args: argparse.Namespace) -> int:
    """Exit 0 when intact, 1 on any break or a missing expected head, 2 without a file."""
    if args.expect_head is not None and not _HEX64.fullmatch(args.expect_head):
        sys.stderr.write("responder: --expect-head takes a 64-digit sha256 hex hash\n")
        return _NO_FILE
    path = _audit_file(args)
    if path is None:
        return _NO_FILE
    head, pruned = _recorded_head(args, path)
    report = verify_chain(path, args.expect_head, head, pruned)
    if args.json:
        emit_json(_report_json(path, report))
    else:
        _report_text(path, report)
    return 0 if report.intact else _BROKEN


def _wanted(record: dict[str, Any], args: argparse.Namespace) -> bool:
    if args.kind and not fnmatch.fnmatchcase(record["kind"], args.kind):
        return False
    return not args.incident or args.incident in (record.get("incident"), record.get("incident_id"))


def _line_text(record: dict[str, Any]) -> str:
    # repr, not the raw text: the values are alert text, and escapes must not reach the terminal.
    rest = " ".join(f"{key}={record[key]!r}" for key in sorted(record) if key not in RESERVED)
    return f"{record['seq']:>6}  {record['time'][:23]}  {record['kind']:<20} {rest}".rstrip()


def _collect(
    label: str,
    lines: Iterator[bytes],
    args: argparse.Namespace,
    shown: collections.deque[dict[str, Any]],
) -> None:
    """Keep the wanted records of one file; lines that are not records are named on stderr."""
    for number, raw in enumerate(lines, start=1):
        try:
            record = parse_line(raw)
        except NotARecordError as exc:
            sys.stderr.write(f"{label}:{number}: not an audit record: {exc}\n")
            continue
        if _wanted(record, args):
            shown.append(record)


def run_show(args: argparse.Namespace) -> int:
    """Print the last matching lines; lines that are not records are named on stderr."""
    path = _audit_file(args)
    if path is None:
        return _NO_FILE
    shown: collections.deque[dict[str, Any]] = collections.deque(maxlen=max(args.limit, 0))
    for segment in segments(path):
        try:
            with closing(read_segment(segment.path)) as lines:
                _collect(segment.name, lines, args, shown)
        except (OSError, EOFError) as exc:
            sys.stderr.write(f"{segment.name}: cannot be read to its end: {exc}\n")
    with closing(read_lines(path)) as lines:
        _collect(str(path), lines, args, shown)
    if args.json:
        emit_json(list(shown))
    else:
        for record in shown:
            sys.stdout.write(_line_text(record) + "\n")
    return 0
