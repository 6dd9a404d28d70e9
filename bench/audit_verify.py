"""`responder audit verify` over 1 million audit lines in segments, against 200,000 lines/s.

Run from the repository with the project's virtualenv:

    .venv/bin/python bench/audit_verify.py [--lines 1000000] [--segment-mib 64]

What issue 17 section 3 asks: "`responder audit verify` time for 1 million lines ... at least
200,000 lines/s".

1. A data directory in a temporary folder gets `--lines` lines shaped like those a Falco flood
   writes (per event: `event.accepted`, `event.matched` or `event.unmatched` with the reason of
   each of 10 playbooks, and `incident.joined` for matched ones; about 450 bytes a line),
   sealed with the audit writer's own `seal()`. Every `--segment-mib` MiB the file is sealed
   into a gzip segment (`DATA/audit/audit-FIRST-LAST.jsonl.gz`) and the next file starts with
   the `audit.segment` record, as the writer does; the last part stays `audit.jsonl`.
2. `responder audit verify --data-dir DATA` runs in this process (the CLI's own entry point;
   with more than one CPU it checks the segments in forked worker processes), timed by the wall
   clock and by the CPU time of this process and its workers (the machine is shared: CPU time
   says what verify costs when other work takes the cores). It must say the chain is intact.
3. The same-run reference: the full reading of a line (parse, re-serialise in canonical form,
   hash) that verify used for every line before issue 17, and still uses to explain a break,
   over the first 100,000 lines.

Printed: lines, files, seconds, lines/s (wall and CPU) against 200,000 lines/s: met or not.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from responder.audit._chain import GENESIS, seal
from responder.audit._diagnose import line_break
from responder.audit._segments import read_segment, segment_name, segments
from responder.cli import main as responder_main

if TYPE_CHECKING:
    from responder.audit import AuditValue

TARGET = 200_000
_PLAYBOOKS = [f"contain-rule-{n}" for n in range(10)]


def _event_lines(n: int) -> list[tuple[str, dict[str, AuditValue]]]:
    """The audit records one flood event makes (kind, fields)."""
    event = f"01JEV{n:021d}"
    matched = n % 4 == 0
    records: list[tuple[str, dict[str, AuditValue]]] = [
        (
            "event.accepted",
            {
                "event": event,
                "journal_seq": n + 1,
                "source": "falco",
                "name": "Terminal shell in container",
                "status": "firing",
                "priority": "Notice",
                "target": f"{n % 50:064x}",
                "received_at": "2026-12-07T04:11:58.901657+00:00",
            },
        )
    ]
    why = dict.fromkeys(_PLAYBOOKS[1:], "rule is not 'Write below etc'")
    if matched:
        records.append(
            ("event.matched", {"event": event, "playbooks": _PLAYBOOKS[:1], "not_matched": why})
        )
        records.append(
            (
                "incident.joined",
                {"event": event, "incident": f"inc-{n % 50:04d}", "playbook": _PLAYBOOKS[0]},
            )
        )
    else:
        why[_PLAYBOOKS[0]] = "container is not labelled environment=production"
        records.append(("event.unmatched", {"event": event, "not_matched": why}))
    return records


def _seal_file(path: Path, lines: list[str], compress: bool) -> None:
    data = "".join(lines).encode()
    if compress:
        with gzip.open(path, "wb", compresslevel=6) as out:
            out.write(data)
    else:
        path.write_bytes(data)


def write_trail(data_dir: Path, total: int, segment_bytes: int) -> None:
    """`total` lines: sealed gzip segments of about `segment_bytes`, then the active file."""
    (data_dir / "audit").mkdir(parents=True)
    seq, head, first, size, n = 0, GENESIS, 1, 0, 0
    lines: list[str] = []
    stamp = "2026-12-07T04:12:00.000000+00:00"
    while seq < total:
        for kind, fields in _event_lines(n):
            if seq >= total:
                break
            if size >= segment_bytes:
                name = segment_name(first, seq, compress=True)
                _seal_file(data_dir / "audit" / name, lines, compress=True)
                marker: dict[str, AuditValue] = {
                    "segment": name,
                    "first_seq": first,
                    "last_seq": seq,
                    "last_hash": head,
                }
                first, size, lines = seq + 1, 0, []
                seq += 1
                line, head = seal(seq, stamp, "audit.segment", marker, head)
                lines.append(line)
                size += len(line)
            seq += 1
            line, head = seal(seq, stamp, kind, fields, head)
            lines.append(line)
            size += len(line)
        n += 1
    _seal_file(data_dir / "audit.jsonl", lines, compress=False)


def reference_rate(data_dir: Path, sample: int) -> float:
    """Lines/s of the full reading of a line (parse, canonical form, hash) over `sample` lines."""
    raw_lines: list[bytes] = []
    for segment in segments(data_dir / "audit.jsonl"):
        with contextlib.closing(read_segment(segment.path)) as lines:
            for raw in lines:
                raw_lines.append(raw)
                if len(raw_lines) >= sample:
                    break
        if len(raw_lines) >= sample:
            break
    last, head = 0, GENESIS
    started = time.process_time()
    for number, raw in enumerate(raw_lines, start=1):
        record = line_break(number, raw, last, head, iter(()))
        assert isinstance(record, dict), record  # noqa: S101 - a script
        last, head = record["seq"], record["hash"]
    return len(raw_lines) / (time.process_time() - started)


def _cpu_s() -> float:
    """CPU seconds of this process and of its finished children (verify's worker processes)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> int:
    """Write the trail, verify it, print the figures; exit 1 when verify does not pass."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--segment-mib", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="audit-verify-") as tmp:
        data_dir = Path(tmp) / "data"
        started = time.perf_counter()
        write_trail(data_dir, args.lines, args.segment_mib << 20)
        files = len(segments(data_dir / "audit.jsonl")) + 1
        on_disk = sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file())
        print(
            f"wrote {args.lines:,} lines in {files} files ({on_disk / 2**20:.0f} MiB on disk) "
            f"in {time.perf_counter() - started:.1f} s; load average {os.getloadavg()[0]:.2f}"
        )
        out = io.StringIO()
        wall, cpu = time.perf_counter(), _cpu_s()
        with contextlib.redirect_stdout(out):
            status = responder_main(["audit", "verify", "--data-dir", str(data_dir)])
        wall, cpu = time.perf_counter() - wall, _cpu_s() - cpu
        print(out.getvalue().strip())
        reference = reference_rate(data_dir, 100_000)
    rate_wall, rate_cpu = args.lines / wall, args.lines / cpu
    held = rate_wall >= TARGET
    print(
        f"audit verify: {args.lines:,} lines in {wall:.2f} s wall, {cpu:.2f} s CPU "
        f"(all processes, {len(os.sched_getaffinity(0))} CPUs)"
    )
    print(
        f"  {rate_wall:,.0f} lines/s wall, {rate_cpu:,.0f} lines/s CPU; target {TARGET:,} "
        f"lines/s: {'met' if held else 'NOT met'}"
    )
    print(
        f"  same-run reference, the full reading of every line (before issue 17): "
        f"{reference:,.0f} lines/s CPU ({rate_cpu / reference:.1f}x)"
    )
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
