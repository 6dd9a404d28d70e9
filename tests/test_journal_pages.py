"""Paging the events view by sequence number, and the journal's indexes on old files."""

from __future__ import annotations

import functools
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from responder.journal import Event, EventQuery, Priority, connect
from responder.journal._reader import JournalReader
from responder.journal._schema import _MIGRATIONS, SCHEMA_VERSION
from responder.journal._writer import _INSERT, _row

AT = datetime(2026, 12, 1, tzinfo=UTC)
SOURCES = ("falco", "alertmanager")
NAMES = ("a", "b", "c")


def _event(n: int, source: str, name: str) -> Event:
    """The n-th journaled event, with its source and name."""
    return Event(
        id=f"{n:026d}",
        key=f"key {n}",
        source=source,  # type: ignore[arg-type]
        name=name,
        priority=Priority.NOTICE,
        status="firing",
        time=AT,
        received_at=AT,
    )


@functools.cache
def _empty_journal() -> bytes:
    """An empty journal as `connect` makes it, once: each example starts from a copy."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "journal.sqlite3"
        connect(path).close()
        return path.read_bytes()


def _journal(directory: Path, shapes: list[tuple[str, str]]) -> Path:
    """A journal holding one event per (source, name), in order."""
    path = directory / "journal.sqlite3"
    path.write_bytes(_empty_journal())
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # a test's file: no fsync per example
    rows = [_row(_event(n, source, name)) for n, (source, name) in enumerate(shapes)]
    conn.execute("BEGIN")
    conn.executemany(_INSERT, rows)
    conn.execute("COMMIT")
    conn.close()
    return path


def _by_offset(path: Path, query: EventQuery) -> list[int]:
    """Every matching seq, newest first, page by page with OFFSET: the reference."""
    where = " AND ".join(
        f"{column} = ?"
        for column, value in (("source", query.source), ("name", query.name))
        if value
    )
    params = [value for value in (query.source, query.name) if value]
    sql = "SELECT seq FROM events" + (f" WHERE {where}" if where else "")  # noqa: S608 - our own column names
    sql += " ORDER BY seq DESC LIMIT ? OFFSET ?"
    conn = sqlite3.connect(path)
    seqs: list[int] = []
    while page := [r[0] for r in conn.execute(sql, [*params, query.limit, len(seqs)])]:
        seqs.extend(page)
    conn.close()
    return seqs


def _by_before(path: Path, query: EventQuery) -> list[int]:
    """Every matching seq, newest first, following `before` as the view's `next` link does."""
    reader = JournalReader(path)
    seqs: list[int] = []
    before = None
    while True:
        page = reader.events(EventQuery(query.source, query.name, before, query.limit))
        seqs.extend(row.seq for row in page)
        if len(page) < query.limit:
            break
        before = page[-1].seq
    reader.close()
    return seqs


@given(
    st.lists(st.tuples(st.sampled_from(SOURCES), st.sampled_from(NAMES)), max_size=40),
    st.sampled_from([None, *SOURCES]),
    st.sampled_from([None, *NAMES]),
    st.integers(1, 7),
)
def test_pages_by_sequence_give_the_events_pages_by_offset_give(
    shapes: list[tuple[str, str]], source: str | None, name: str | None, limit: int
) -> None:
    """Following `before` lists every matching event once, in the order OFFSET pages list them."""
    with tempfile.TemporaryDirectory() as tmp:
        path = _journal(Path(tmp), shapes)
        query = EventQuery(source=source, name=name, limit=limit)
        assert _by_before(path, query) == _by_offset(path, query)


def test_a_page_filtered_by_source_reads_an_index_in_order(tmp_path: Path) -> None:
    """Newest first within a source comes from an index, not from sorting the source's events."""
    conn = connect(tmp_path / "journal.sqlite3")
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT seq, id FROM events WHERE source = ? AND seq < ? "
        "ORDER BY seq DESC LIMIT 50",
        ("falco", 10),
    ).fetchall()
    conn.close()
    details = " ".join(str(step[-1]) for step in plan)
    assert "events_source_seq" in details
    assert "TEMP B-TREE" not in details


def _indexes(path: Path) -> set[str]:
    """The names of the journal's indexes."""
    conn = sqlite3.connect(path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    conn.close()
    return names


def test_an_old_journal_gains_the_index_and_keeps_its_version_and_events(tmp_path: Path) -> None:
    """A journal as version 1 made it: opened, it gets the index, keeps every event and v1."""
    path = tmp_path / "journal.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    old.executescript(f"BEGIN;{_MIGRATIONS[1]}PRAGMA user_version = 1;COMMIT;")
    old.executemany(_INSERT, [_row(_event(n, SOURCES[n % 2], "a")) for n in range(5)])
    old.close()
    assert "events_source_seq" not in _indexes(path)
    connect(path).close()
    connect(path).close()  # opening again changes nothing
    assert "events_source_seq" in _indexes(path)
    conn = sqlite3.connect(path)
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    conn.close()
    assert version == SCHEMA_VERSION == 1  # what the previous responder accepts
    assert _by_before(path, EventQuery(source="alertmanager")) == [4, 2]


def test_a_journal_with_the_index_still_takes_appends_without_it_in_mind(tmp_path: Path) -> None:
    """An older responder's insert (the same statement) keeps the index whole."""
    path = _journal(tmp_path, [("falco", "a"), ("alertmanager", "b")])
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(_INSERT, _row(_event(9, "alertmanager", "c")))
    (check,) = conn.execute("PRAGMA integrity_check").fetchone()
    conn.close()
    assert check == "ok"
    assert _by_before(path, EventQuery(source="alertmanager", limit=1)) == [3, 2]
