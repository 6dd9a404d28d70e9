"""The audit trail: writing the chain, and verification catching every kind of tampering."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import shutil
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest

from responder.audit import AUDIT_FILE, AuditLog, verify_chain
from responder.audit._chain import GENESIS, seal

if TYPE_CHECKING:
    from pathlib import Path


async def write_chain(path: Path, count: int) -> None:
    """`count` records through a real AuditLog, closed afterwards."""
    audit = AuditLog(path)
    await audit.open()
    for number in range(count):
        audit.record("step.finished", incident=f"inc-{number % 3}", step=number, status="ok")
    await audit.close()


def read(path: Path) -> list[bytes]:
    """The file's lines, newline kept."""
    return path.read_bytes().splitlines(keepends=True)


def write(path: Path, lines: list[bytes]) -> None:
    """Replace the file's content, as someone tampering with it would."""
    path.write_bytes(b"".join(lines))


def edited(raw: bytes, **changes: Any) -> dict[str, Any]:
    """The record of a line with some values changed, its hash left as it was."""
    record: dict[str, Any] = json.loads(raw)
    record.update(changes)
    return record


def forged(record: dict[str, Any]) -> bytes:
    """A line sealed properly for the record's seq and prev, as a forger knowing the scheme would."""
    fields = {k: v for k, v in record.items() if k not in {"seq", "time", "kind", "prev", "hash"}}
    line, _ = seal(record["seq"], record["time"], record["kind"], fields, record["prev"])
    return line.encode()


@pytest.fixture
async def chain(tmp_path: Path) -> Path:
    """A closed audit file of ten records."""
    path = tmp_path / AUDIT_FILE
    await write_chain(path, 10)
    return path


async def test_a_long_chain_verifies(tmp_path: Path) -> None:
    """Many records written in batches form one intact chain whose head is the last hash."""
    path = tmp_path / "data" / AUDIT_FILE
    await write_chain(path, 2000)
    report = verify_chain(path)
    assert report.intact
    assert (report.lines, report.last_seq) == (2000, 2000)
    assert report.head == json.loads(read(path)[-1])["hash"]
    assert json.loads(read(path)[0])["prev"] == GENESIS
    assert path.stat().st_mode & 0o777 == 0o600


async def test_flush_makes_lines_visible_on_disk(tmp_path: Path) -> None:
    """After flush() every line recorded so far is in the file, with the log still open."""
    path = tmp_path / AUDIT_FILE
    audit = AuditLog(path)
    await audit.open()
    audit.record("event.accepted", event="e1")
    audit.record("event.matched", event="e1", playbooks=["contain"])
    await audit.flush()
    kinds = [json.loads(raw)["kind"] for raw in read(path)]
    await audit.close()
    assert kinds == ["event.accepted", "event.matched"]


async def test_an_edited_value_is_caught_at_that_line(chain: Path) -> None:
    """Changing a value and keeping the hash breaks the chain at the edited line."""
    lines = read(chain)
    lines[4] = json.dumps(edited(lines[4], status="failed")).encode() + b"\n"
    write(chain, lines)
    broken = verify_chain(chain).broken
    assert broken is not None
    assert broken.line == 5
    assert broken.reason == "line 5 was edited: its content does not match its hash"


async def test_an_edit_with_a_recomputed_hash_is_caught_at_the_next_line(chain: Path) -> None:
    """Re-hashing an edited line makes it look whole; the line after it no longer follows."""
    lines = read(chain)
    lines[4] = forged(edited(lines[4], status="failed"))
    write(chain, lines)
    report = verify_chain(chain)
    assert report.broken is not None
    assert report.broken.line == 6
    assert "line 6 does not follow line 5" in report.broken.reason
    assert report.lines == 5


async def test_a_reformatted_line_is_caught(chain: Path) -> None:
    """Whitespace added to a line is a change to its bytes even if its values are the same."""
    lines = read(chain)
    lines[2] = json.dumps(json.loads(lines[2]), sort_keys=True).encode() + b"\n"
    write(chain, lines)
    broken = verify_chain(chain).broken
    assert broken is not None
    assert (broken.line, "canonical form" in broken.reason) == (3, True)


async def test_a_deleted_line_is_called_removed(chain: Path) -> None:
    """Removing a line is reported at the line after the gap, as removed."""
    lines = read(chain)
    del lines[4]
    write(chain, lines)
    broken = verify_chain(chain).broken
    assert broken is not None
    assert broken.line == 5
    assert broken.reason == "line 5: seq 6 follows seq 4: 1 line removed"


async def test_a_deleted_first_line_is_called_removed(chain: Path) -> None:
    """A chain that does not start at seq 1 lost its first lines."""
    write(chain, read(chain)[2:])
    broken = verify_chain(chain).broken
    assert broken is not None
    assert (
        broken.reason == "line 1: the chain starts at seq 3, not 1: 2 lines removed from the start"
    )


async def test_swapped_adjacent_lines_are_called_reordered(chain: Path) -> None:
    """Two lines swapped look like a gap at first; the missing seq right after says reordered."""
    lines = read(chain)
    lines[4], lines[5] = lines[5], lines[4]
    write(chain, lines)
    broken = verify_chain(chain).broken
    assert broken is not None
    assert broken.line == 5
    assert broken.reason == (
        "line 5: seq 6 follows seq 4: lines were reordered (seq 5 comes later in the file)"
    )


async def test_a_line_moved_back_is_called_reordered(chain: Path) -> None:
    """A seq lower than the one before it is a reordering."""
    lines = read(chain)
    lines.insert(7, lines.pop(2))
    write(chain, lines)
    broken = verify_chain(chain).broken
    assert broken is not None
    assert (broken.line, "reordered" in broken.reason) == (3, True)


async def test_an_inserted_forged_line_is_caught(chain: Path) -> None:
    """A well-sealed line slipped in after line 4 is caught where the real line 5 now follows it."""
    lines = read(chain)
    after = json.loads(lines[3])
    fake = {"seq": 5, "time": after["time"], "kind": "incident.released", "prev": after["hash"]}
    lines.insert(4, forged({**fake, "incident": "inc-1", "by": "mallory"}))
    write(chain, lines)
    broken = verify_chain(chain).broken
    assert broken is not None
    assert broken.line == 6
    assert (
        broken.reason == "line 6: seq 5 follows seq 5: a line was inserted, duplicated or reordered"
    )


async def test_a_line_that_is_not_a_record_is_named(chain: Path) -> None:
    """Garbage in the file is reported as not a record, at its line."""
    lines = read(chain)
    lines.insert(3, b"hello\n")
    write(chain, lines)
    broken = verify_chain(chain).broken
    assert broken is not None
    assert broken.line == 4
    assert broken.reason.startswith("line 4 is not an audit record: not JSON")


async def test_a_torn_tail_is_recovered_at_open(chain: Path) -> None:
    """A crash mid-write leaves a partial line; open cuts it off and records audit.recovered."""
    torn = b'{"event":"e9","hash":"ab'
    with chain.open("ab") as file:
        file.write(torn)
    broken = verify_chain(chain).broken
    assert broken is not None
    assert "line 11 is incomplete" in broken.reason
    audit = AuditLog(chain)
    await audit.open()
    audit.record("event.accepted", event="e10")
    await audit.close()
    lines = [json.loads(raw) for raw in read(chain)]
    assert [line["kind"] for line in lines[-2:]] == ["audit.recovered", "event.accepted"]
    assert lines[-2]["removed_bytes"] == len(torn)
    assert lines[-2]["removed_sha256"] == hashlib.sha256(torn).hexdigest()
    assert lines[-2]["removed_text"] == torn.decode()
    assert verify_chain(chain).intact


async def test_two_writers_keep_one_chain(tmp_path: Path) -> None:
    """The server and a CLI process appending to one file at once still make one valid chain."""
    path = tmp_path / AUDIT_FILE
    other = textwrap.dedent(f"""
        import asyncio, pathlib
        from responder.audit import AuditLog
        async def main():
            audit = AuditLog(pathlib.Path({str(path)!r}))
            await audit.open()
            for n in range(200):
                audit.record("incident.released", writer="cli", n=n)
                if n % 5 == 0:
                    await audit.flush()
                    await asyncio.sleep(0.001)
            await audit.close()
        asyncio.run(main())
    """)
    audit = AuditLog(path)
    await audit.open()
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", other)
    written = 0
    while process.returncode is None:  # keep writing for as long as the other writer lives
        audit.record("step.started", writer="server", n=written)
        written += 1
        await audit.flush()
        await asyncio.sleep(0.001)
    assert await process.wait() == 0
    await audit.close()
    report = verify_chain(path)
    assert report.intact, report.broken
    writers = [json.loads(raw)["writer"] for raw in read(path)]
    assert (writers.count("cli"), writers.count("server")) == (200, written)
    assert sum(a != b for a, b in itertools.pairwise(writers)) > 2  # the two really interleaved


async def test_reserved_field_names_are_rejected(tmp_path: Path) -> None:
    """A field that would overwrite the chain's own keys is a programming error."""
    audit = AuditLog(tmp_path / AUDIT_FILE)
    for name in ("seq", "time", "kind", "prev", "hash"):
        with pytest.raises(ValueError, match=f"reserved audit field names: {name}"):
            audit.record("event.accepted", **{name: "x"})


async def test_a_write_failure_is_counted_not_raised(tmp_path: Path) -> None:
    """With the directory gone, record() and flush() still return; the loss is counted and noted."""
    directory = tmp_path / "data"
    failures: list[int] = []
    audit = AuditLog(directory / AUDIT_FILE, on_error=lambda: failures.append(1))
    await audit.open()
    shutil.rmtree(directory)
    directory.write_text("a file where the directory was\n")
    audit.record("notification.sent", incident="inc-1")
    await audit.flush()
    assert (audit.errors, len(failures)) == (1, 1)
    directory.unlink()
    directory.mkdir()
    audit.record("notification.sent", incident="inc-2")
    await audit.close()
    lines = [json.loads(raw) for raw in read(directory / AUDIT_FILE)]
    assert [line["kind"] for line in lines] == ["audit.lost", "notification.sent"]
    assert lines[0]["records"] == 1
    assert "Not a directory" in lines[0]["reason"]
    assert verify_chain(directory / AUDIT_FILE).intact


async def test_a_tail_cut_while_running_is_written_down(tmp_path: Path) -> None:
    """Lines removed from the end under a running writer are noted, with the seq it had reached."""
    path = tmp_path / AUDIT_FILE
    audit = AuditLog(path)
    await audit.open()
    for number in range(5):
        audit.record("step.finished", step=number)
    await audit.flush()
    lines = read(path)
    write(path, lines[:2])
    audit.record("step.finished", step=5)
    await audit.close()
    note = json.loads(read(path)[2])
    assert (note["kind"], note["seq"], note["last_seq"]) == ("audit.truncated", 3, 5)
    assert note["last_hash"] == json.loads(lines[4])["hash"]
    assert verify_chain(path).intact


async def test_record_after_close_is_counted_not_raised(tmp_path: Path) -> None:
    """A decision recorded during shutdown after close() is counted as an error."""
    audit = AuditLog(tmp_path / AUDIT_FILE)
    await audit.open()
    await audit.close()
    audit.record("report.written", incident="inc-1")
    assert audit.errors == 1


async def test_odd_characters_survive_a_round_trip(tmp_path: Path) -> None:
    """Non-ASCII, control characters and line separators come back as written and verify."""
    path = tmp_path / AUDIT_FILE
    text = 'Ünïcode 日本 🦀 \x00\x1b[31m\r\n\t\u2028\u2029 "quoted" \\ end'
    audit = AuditLog(path)
    await audit.open()
    audit.record("event.accepted", output=text, fields={"proc.cmdline": text}, tags=[text])
    audit.record("event.accepted", lone="bad \ud800 surrogate", value=float("nan"))
    await audit.close()
    first, second = (json.loads(raw) for raw in read(path))
    assert (first["output"], first["fields"]["proc.cmdline"], first["tags"]) == (text, text, [text])
    assert (second["lone"], second["value"]) == ("bad \ufffd surrogate", "nan")
    assert verify_chain(path).intact


async def test_an_expected_head_must_still_be_in_the_chain(chain: Path) -> None:
    """A head noted earlier is found while the file grows, and missed once its tail is cut."""
    lines = read(chain)
    noted = json.loads(lines[6])["hash"]
    report = verify_chain(chain, noted)
    assert (report.intact, report.expected_line) == (True, 7)
    write(chain, lines[:5])
    report = verify_chain(chain, noted)
    assert report.broken is None
    assert not report.intact


async def test_records_before_open_are_written_after_it(tmp_path: Path) -> None:
    """Recording before open() queues the line rather than losing it."""
    path = tmp_path / AUDIT_FILE
    audit = AuditLog(path)
    audit.record("event.accepted", event="early")
    await audit.open()
    await audit.close()
    assert [json.loads(raw)["event"] for raw in read(path)] == ["early"]


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"a": 1, "zz": [1, {"hash": "x", "b": None}]},
        {"event": "E1", "incident": "I1", "not_matched": {"p": "rule 'x' is not among ['y']"}},
        {"h": "é \u2028", "hasi": True, "hasg": 1.5, "kinds": ["a"], "prev_": 0},
    ],
)
def test_a_sealed_line_is_the_canonical_form_of_its_record_and_hash(fields: dict[str, Any]) -> None:
    """The line is what sorted-key JSON of the whole record gives, hash included."""
    line, digest = seal(7, "2026-11-24T00:00:00.000000+00:00", "event.accepted", fields, GENESIS)
    record = {**fields, "seq": 7, "time": "2026-11-24T00:00:00.000000+00:00"}
    record |= {"kind": "event.accepted", "prev": GENESIS}
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert digest == hashlib.sha256(canonical.encode()).hexdigest()
    record["hash"] = digest
    assert (
        line == json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    )
