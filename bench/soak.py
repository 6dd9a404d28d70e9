"""Soak: an hour of mixed traffic compressed into minutes, small retention limits, disk and RSS.

`responder serve` (real Docker engine for readiness; the traffic names no container) takes a
steady stream of Falco events for `--seconds`: mostly noise no playbook wants, and one in
`--match-every` a rule that a notify playbook turns into an incident (its events are kept for
as long as the incident; its message goes through the outbox). Retention runs in the server
with limits scaled down by the same factor as time (`--scale`, 20: three minutes stand for an
hour), so that the journal and the outbox reach their limits within the run.

Every `--sample` seconds it prints the bytes on disk of the journal and its WAL, the
outbox and its WAL, the incident store, the evidence and the audit trail, the journal's row count and the
server's RSS. It says "met" for a store when the largest size in the last third of the run is
at most 1.1x the largest in the middle third (levelled off), and the same for RSS. A WAL is
printed, not judged: SQLite reuses it from the start after each checkpoint, so it stays near its
high-water mark (about 4 MB, the automatic checkpoint's 1000 pages, plus what one burst adds).
The audit trail rotates in its own change (issue 17, audit17); until then it is printed only.

    python bench/soak.py [--seconds 180] [--rate 200] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sqlite3
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import EXIT_FAILED, EXIT_INTERRUPTED
from harness.figures import ratio, table, verdict, write_json
from harness.machine import machine, process_memory_kb
from harness.paced import Load, send_paced
from harness.processes import Server, free_port, scratch, server, status_ready
from harness.run import interruptible, print_header
from harness.servers import count_events, responder_env

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

PLAYBOOK = """\
name: soak-probe
match:
  rules: [Soak probe]
cooldown: {cooldown}
steps:
  - action: notify
    with: {{channels: [oncall]}}
"""
CONFIG = """\
limits: {{max_containments: 100000, window: 1h, concurrency: 8}}
retention:
  enabled: {enabled}
  interval: {interval}
  batch: 500
  pause: 5ms
  journal: {{max_age: {age}, max_bytes: {journal_bytes}}}
  evidence: {{max_age: {age}, max_bytes: 1MiB}}
  outbox: {{max_age: {age}}}
"""
STORES = ("journal", "journal wal", "outbox", "outbox wal", "incidents", "evidence", "audit")
JUDGED = ("journal", "outbox", "rss")
LEVEL = 1.1


def _body(n: int, match_every: int, run_id: str) -> bytes:
    """A Falco event about the host; every `match_every`th is one the playbook acts on."""
    rule = "Soak probe" if n % match_every == 0 else "Soak noise"
    return json.dumps(
        {
            "hostname": platform.node(),
            "rule": rule,
            "priority": "Warning",
            "source": "syscall",
            "output": f"{rule} #{n} run {run_id}: " + "x" * 600,  # ~1 KB, as Falco's lines are
            "time": time.time_ns() + n,
            "tags": ["soak"],
            "output_fields": {"proc.name": "sh", "evt.num": n, "bench.run": run_id},
        }
    ).encode()


def _bytes(path: Path) -> int:
    """Disk blocks used by a file, or by every file under a directory (0: none)."""
    if path.is_file():
        return path.stat().st_blocks * 512
    total = 0
    for root, _dirs, files in os.walk(path):
        total += sum(os.lstat(os.path.join(root, f)).st_blocks * 512 for f in files)  # noqa: PTH118
    return total


def _rows(journal: Path) -> int:
    """The journal's events while the server runs; -1 when it cannot be read just now."""
    try:
        return count_events(journal)
    except sqlite3.Error:
        return -1


def _sample(data: Path, pid: int, start: float) -> dict[str, Any]:
    """One row: each store's bytes on disk (SQLite files and their WALs apart), rows, RSS."""
    files = {
        "journal": data / "journal.sqlite3",
        "journal wal": data / "journal.sqlite3-wal",
        "outbox": data / "outbox.sqlite3",
        "outbox wal": data / "outbox.sqlite3-wal",
        "incidents": data / "incidents.sqlite3",
        "evidence": data / "evidence",
        "audit": data / "audit.jsonl",
    }
    sample: dict[str, Any] = {"t": round(time.monotonic() - start)}
    sample |= {store: _bytes(path) for store, path in files.items()}
    sample["rows"] = _rows(files["journal"])
    sample["rss"] = (process_memory_kb(pid, "VmRSS") or 0) * 1024
    return sample


def _sampler(data: Path, pid: int, every: float, stop: threading.Event) -> Iterator[dict[str, Any]]:
    start = time.monotonic()
    while not stop.wait(every):
        yield _sample(data, pid, start)


def _levelled(samples: Sequence[dict[str, Any]], key: str) -> tuple[bool, int, int]:
    """(levelled off, largest of the middle third, largest of the last third)."""
    third = max(1, len(samples) // 3)
    middle = max(s[key] for s in samples[third : 2 * third] or samples)
    last = max(s[key] for s in samples[2 * third :] or samples)
    return last <= middle * LEVEL, middle, last


def _mb(value: int) -> str:
    return f"{value / 1e6:.2f}"


@contextlib.contextmanager
def _serve(work: Path, args: argparse.Namespace, *, prune: bool) -> Iterator[Server]:
    scale = args.scale
    playbooks = work / "playbooks"
    playbooks.mkdir()
    (playbooks / "soak.yaml").write_text(PLAYBOOK.format(cooldown=f"{600 / scale:g}s"))
    config = work / "responder.yaml"
    config.write_text(
        CONFIG.format(
            enabled=str(prune).lower(),
            interval=f"{600 / scale:g}s",  # every 10 minutes of the hour
            age=f"{args.age_minutes * 60 / scale:g}s",
            journal_bytes=args.journal_bytes,
        )
    )
    (work / "data").mkdir()
    port = free_port()
    command = [sys.executable, "-m", "responder", "serve", "--config", str(config)]
    command += [
        "--port",
        str(port),
        "--data-dir",
        str(work / "data"),
        "--playbooks",
        str(playbooks),
    ]
    ready = status_ready(port, "GET", "/readyz")
    with server("responder", port, command, work, ready=ready, env=responder_env()) as running:
        yield running


# Long on purpose: the run in order (serve, load while sampling, stop, judge), printed as it goes.
def soak(args: argparse.Namespace) -> dict[str, Any]:
    """Run the soak, then (unless `--no-reference`) the same traffic with retention off."""
    count = int(args.rate * args.seconds)
    run_id = uuid.uuid4().hex[:8]
    bodies = [_body(n, args.match_every, run_id) for n in range(count)]
    samples: list[dict[str, Any]] = []
    print("with retention:")
    with scratch("soak-") as work:
        load = _run(work, args, bodies, samples)
        log = (work / "server.log").read_text().splitlines()
    passes = [line for line in log if "retention: pruned" in line]
    print(f"\n{len(passes)} pruning passes removed something; the last three:")
    for line in passes[-3:]:
        print("  " + line[-140:])
    result = {"samples": samples, "load": load.summary(), "events": count, "passes": passes}
    if args.reference:
        reference: list[dict[str, Any]] = []
        print("\nreference, the same traffic with retention off (`retention.enabled: false`):")
        other = uuid.uuid4().hex[:8]  # new keys: nothing is a duplicate of the first run
        bodies = [_body(n, args.match_every, other) for n in range(count)]
        with scratch("soak-ref-") as work:
            result["reference_load"] = _run(work, args, bodies, reference, prune=False).summary()
        result["reference"] = reference
    return result


def _run(
    work: Path,
    args: argparse.Namespace,
    bodies: list[bytes],
    samples: list[dict[str, Any]],
    *,
    prune: bool = True,
) -> Load:
    """Serve, send the load while sampling, sample twice more, stop the server."""
    with _serve(work, args, prune=prune) as running:
        stop = threading.Event()

        def sample() -> None:
            for row in _sampler(running.data_dir, running.pid, args.sample, stop):
                samples.append(row)
                cells = [str(row["t"]), *(_mb(row[s]) for s in STORES), str(row["rows"])]
                print("  " + "  ".join([*cells, _mb(row["rss"])]), flush=True)

        print(
            "  t s  " + "  ".join(STORES) + " (MB)  rows  rss MB",
            flush=True,
        )
        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        load = send_paced(running.port, bodies, args.seconds, args.connections)
        time.sleep(args.sample * 2)  # two more samples after the load: the last pass
        stop.set()
        thread.join()
    return load


def _report(result: dict[str, Any]) -> bool:
    """The verdicts: each judged store levelled off, and nothing refused."""
    samples, load = result["samples"], result["load"]
    reference = result.get("reference") or [{}]
    ref_load = result.get("reference_load")
    print(
        f"\nacknowledged {load['acknowledged']} of {result['events']}, "
        f"p50 {load['p50']:.1f} ms, p99 {load['p99']:.1f} ms"
    )
    if ref_load:
        print(
            f"reference: acknowledged {ref_load['acknowledged']}, p50 {ref_load['p50']:.1f} ms, "
            f"p99 {ref_load['p99']:.1f} ms; p99 with pruning / without = "
            f"{ratio(load['p99'], ref_load['p99'])}"
        )
    rows: list[list[str]] = []
    ok = int(load["failed"]) == 0
    for key in (*JUDGED, "journal wal", "outbox wal", "incidents", "evidence", "audit"):
        held, middle, last = _levelled(samples, key)
        judged = key in JUDGED
        ok &= held or not judged
        end = _mb(reference[-1][key]) if key in reference[-1] else "-"
        rows.append([key, _mb(middle), _mb(last), end, verdict(held) if judged else "printed only"])
    table(["MB", "mid third max", "last third max", "reference at end", "levelled off"], rows)
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak and print its table; exit 1 when the journal, outbox or RSS keeps growing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the run (180)")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second (200)")
    parser.add_argument("--connections", type=int, default=16, help="client connections (16)")
    parser.add_argument("--match-every", type=int, default=500, help="one event in N is acted on")
    parser.add_argument("--scale", type=float, default=20.0, help="hour / run length (20)")
    parser.add_argument("--age-minutes", type=float, default=10.0, help="max_age, hour-scale (10)")
    parser.add_argument("--journal-bytes", default="4MiB", help="journal budget (4MiB)")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="skip the same traffic with retention off",
    )
    parser.add_argument("--json", dest="json_out", type=Path, metavar="FILE")
    args = parser.parse_args(argv)
    interruptible()
    print_header(
        "soak: disk use and RSS under steady mixed traffic, with retention",
        [
            ("machine", machine()),
            (
                "traffic",
                f"{args.rate:g}/s for {args.seconds:g} s, 1 in {args.match_every} acted on",
            ),
        ],
    )
    try:
        result = soak(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    ok = _report(result)
    if args.json_out:
        write_json(args.json_out, result)
    return 0 if ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
