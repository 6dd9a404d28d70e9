"""Data made fast for the scale benchmark: playbooks, a big journal, an audit trail, an incident.

Each is written the way responder writes it (the journal's own schema and row, the audit
trail's `seal`, the incident store's `dispatch`), but directly, without a server: a million
events over HTTP would measure intake, not what a big journal costs afterwards.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from responder.audit._chain import GENESIS, seal
from responder.incidents import Dispatch, IncidentStore, Joined, NewIncident
from responder.journal import Event, Priority
from responder.journal._schema import connect
from responder.journal._writer import _INSERT, _row  # the journal's own row, not a copy

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from responder.audit import AuditValue

PER_FILE = 10
START = datetime(2026, 12, 1, tzinfo=UTC)
NOISE_RULE = "Contact K8S API Server From Container"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _playbook(index: int) -> str:
    """One playbook: its own Falco rule or alertname, a few conditions, two steps."""
    if index % 2:
        conditions = [
            f"alertnames: [BenchAlert{index:04d}]",
            "labels: {severity: {in: [critical, page]}}",
        ]
    else:
        conditions = [
            f"rules: ['Bench rule {index:04d}']",
            "tags: {any: [container, shell]}",
            "output: {regex: bench}",
        ]
    conditions += ["priority: '>=Warning'", "container: {running: true}"]
    match = "".join(f"    {line}\n" for line in conditions)
    return (
        f"- name: bench-{index:04d}\n"
        f"  order: {100 + index % 7}\n"
        f"  match:\n{match}"
        "  steps:\n"
        "    - action: docker:snapshot\n"
        "    - action: docker:pause\n"
    )


def write_playbooks(directory: Path, count: int) -> None:
    """`count` playbooks with distinct rules and alertnames, ten to a file, in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for first in range(0, count, PER_FILE):
        text = "".join(_playbook(i) for i in range(first, min(first + PER_FILE, count)))
        (directory / f"bench-{first // PER_FILE:04d}.yaml").write_text(text, encoding="utf-8")


def _ulid(millis: int, n: int) -> str:
    """A ULID-shaped id that sorts by time, as `new_event_id` makes them."""
    value, digits = millis, []
    for _ in range(10):
        value, digit = divmod(value, 32)
        digits.append(_CROCKFORD[digit])
    value, tail = n, []
    for _ in range(16):
        value, digit = divmod(value, 32)
        tail.append(_CROCKFORD[digit])
    return "".join(reversed(digits)) + "".join(reversed(tail))


def bench_event(n: int) -> Event:
    """The n-th event of a noisy host: mostly Falco noise, every tenth an Alertmanager alert."""
    at = START + timedelta(milliseconds=10 * n)
    alert = n % 10 == 0
    return Event(
        id=_ulid(int(at.timestamp() * 1000), n),
        key=hashlib.sha256(f"bench {n}".encode()).hexdigest(),
        source="alertmanager" if alert else "falco",
        name="HighCPU" if alert else NOISE_RULE,
        priority=Priority.WARNING if alert else Priority.NOTICE,
        status="firing",
        time=at,
        received_at=at,
        hostname=f"node-{n % 5}",
        tags=() if alert else ("container", "k8s", "network"),
        output=f"bench event {n}: outbound connection to the K8S API server",
    )


def _rows(count: int) -> Iterator[tuple[object, ...]]:
    """The journal's rows; every 1,000th made from a full Event, the rest from a template."""
    template = _row(bench_event(1))
    for n in range(1, count + 1):
        if n % 10 == 0 or n % 1000 == 1:
            yield _row(bench_event(n))
            continue
        event_id = _ulid(int((START + timedelta(milliseconds=10 * n)).timestamp() * 1000), n)
        key = hashlib.sha256(f"bench {n}".encode()).hexdigest()
        body = str(template[-1]).replace(str(template[0]), event_id).replace(str(template[1]), key)
        yield (event_id, key, *template[2:-1], body)


def write_journal(path: Path, count: int, chunk: int = 50_000) -> int:
    """`count` events in a new journal at `path`, in the journal's schema; the last seq."""
    conn = connect(path)
    try:
        conn.execute("PRAGMA synchronous = OFF")  # made once, not acknowledged one by one
        rows = _rows(count)
        while batch := [row for _, row in zip(range(chunk), rows, strict=False)]:
            conn.execute("BEGIN")
            conn.executemany(_INSERT, batch)
            conn.execute("COMMIT")
        (last,) = conn.execute("SELECT max(seq) FROM events").fetchone()
    finally:
        conn.close()
    return int(last)


def drop_new_indexes(path: Path) -> None:
    """The journal as the version before `events_source_seq` left it (the next open builds it)."""
    conn = connect(path)
    try:
        conn.execute("DROP INDEX IF EXISTS events_source_seq")
    finally:
        conn.close()


def set_cursor(store_path: Path, cursor: int) -> None:
    """The worker's cursor in a new incident store: every journaled event already dispatched."""
    store = IncidentStore(store_path)
    try:
        store.dispatch(Dispatch(cursor=cursor))
    finally:
        store.close()


def write_audit(path: Path, count: int) -> None:
    """`count` sealed lines, as the worker writes them for events no playbook wants."""
    prev = GENESIS
    with path.open("w", encoding="utf-8") as out:
        for seq in range(1, count + 1):
            fields: dict[str, AuditValue] = {
                "event": _ulid(1_764_547_200_000 + seq, seq),
                "not_matched": {"contain-shell": f"rule {NOISE_RULE!r} is not among [...]"},
                "not_candidates": 12,
            }
            line, prev = seal(seq, "2026-12-01T00:00:00+00:00", "event.unmatched", fields, prev)
            out.write(line)


def write_incident(data_dir: Path, events: int) -> str:
    """One incident that `events` journaled events opened and joined; its id."""
    last = write_journal(data_dir / "journal.sqlite3", events)
    first = bench_event(1)
    incident_id = _ulid(int(first.time.timestamp() * 1000), 99)
    stamp = first.time.isoformat()
    opened = NewIncident(
        id=incident_id,
        playbook="bench-0000",
        playbook_digest="0" * 64,
        playbook_file="bench-0000.yaml:1",
        target="0123456789ab",
        subject="0123456789ab",
        container_id="0123456789ab",
        container_name="web",
        image="nginx:1.25",
        event_source="falco",
        event_name=NOISE_RULE,
        priority="Notice",
        first_event=first.id,
        first_seen=stamp,
        last_seen=stamp,
        opened_at=stamp,
        state="contained",
    )
    joined = [Joined(incident_id, bench_event(n).id, stamp) for n in range(2, events + 1)]
    store = IncidentStore(data_dir / "incidents.sqlite3")
    try:
        store.dispatch(Dispatch(cursor=last, opened=[opened], joined=joined, sources={}))
    finally:
        store.close()
    return incident_id
