"""Every command piped into a reader that stops early (`| head -1`) ends quietly: no traceback.

Regression: `responder incidents | head -1` printed a `BrokenPipeError` traceback (or
"Exception ignored ... BrokenPipeError" at exit, status 120) once the reader had gone.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _builders import make_event
from _reports import INCIDENT_ID, incident, seed

from responder.audit import AUDIT_FILE
from responder.audit._chain import GENESIS, seal
from responder.journal import Journal
from responder.metrics import Metrics

if TYPE_CHECKING:
    from collections.abc import Sequence

REPOSITORY = Path(__file__).parent.parent
PLAYBOOKS = str(REPOSITORY / "playbooks")
SIGPIPE_STATUS = 141
TIME = "2025-03-14T09:26:53.000000+00:00"
LONG_LISTING = 600
"""Events in the long listing: far more JSON than a pipe and Python's buffer hold together."""

# Each command as a user would pipe it, with the data directory appended where it takes one.
COMMANDS: dict[str, list[str]] = {
    "help": ["--help"],
    "actions": ["actions"],
    "actions json": ["actions", "--json"],
    "notifiers": ["notifiers"],
    "check": ["check", PLAYBOOKS],
    "test": ["test", f"{PLAYBOOKS}/tests", "--playbooks", PLAYBOOKS],
    "plan": ["plan", "{event}", "--playbooks", PLAYBOOKS],
    "plan json": ["plan", "{event}", "--playbooks", PLAYBOOKS, "--json"],
    "events": ["events"],
    "events json": ["events", "--json"],
    "incidents": ["incidents"],
    "incidents json": ["incidents", "--json"],
    "one incident": ["incidents", INCIDENT_ID],
    "one incident json": ["incidents", INCIDENT_ID, "--json"],
    "report md": ["report", INCIDENT_ID],
    "report json": ["report", INCIDENT_ID, "--format", "json"],
    "report html": ["report", INCIDENT_ID, "--format", "html"],
    "audit verify": ["audit", "verify"],
    "audit show": ["audit", "show"],
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with events, one contained incident and an audit trail."""
    directory = tmp_path_factory.mktemp("pipes") / "data"
    directory.mkdir()
    event = make_event(output="shell in web")
    asyncio.run(seed(directory, incident(directory, event), event))
    head, lines = GENESIS, []
    for seq in range(1, 4):
        line, head = seal(seq, TIME, "event.accepted", {"event": f"e{seq}"}, head)
        lines.append(line)
    (directory / AUDIT_FILE).write_text("".join(lines))
    return directory


@pytest.fixture(scope="module")
def event_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Falco body about a process on the host: `plan` needs no engine for it."""
    path = tmp_path_factory.mktemp("event") / "event.json"
    body = {"rule": "Terminal shell in container", "priority": "Warning", "output": "sh on host"}
    path.write_text(json.dumps({**body, "output_fields": {"container.id": "host"}}))
    return path


def command(argv: Sequence[str], data_dir: Path, event_file: Path) -> list[str]:
    """`python -m responder ARGV` with the event file filled in and the data directory given."""
    args = [arg.replace("{event}", str(event_file)) for arg in argv]
    if args != ["--help"]:
        args += ["--data-dir", str(data_dir)]
    return [sys.executable, "-m", "responder", *args]


def environment() -> dict[str, str]:
    """This environment without any RESPONDER_* setting that would change what runs."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RESPONDER_")}


def assert_quiet(status: int, stderr: bytes, expected: int = SIGPIPE_STATUS) -> None:
    """Stopped as a program stopped by SIGPIPE is, with nothing about it on stderr."""
    text = stderr.decode(errors="replace")
    assert "Traceback" not in text, text
    assert "BrokenPipe" not in text, text
    assert "Exception ignored" not in text, text
    assert status == expected, (status, text)


@pytest.mark.parametrize("argv", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_command_writing_into_a_closed_pipe_ends_quietly_with_141(
    argv: list[str], data_dir: Path, event_file: Path, tmp_path: Path
) -> None:
    """The reader is gone before the first byte: status 141, no traceback, no "Exception ignored"."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            command(argv, data_dir, event_file),
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            env=environment(),
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    # argparse itself writes `--help` and ignores a write error: it exits 0, as `ls --help` may.
    assert_quiet(done.returncode, done.stderr, 0 if argv == ["--help"] else SIGPIPE_STATUS)


def test_a_reader_that_takes_one_line_of_a_long_listing_and_leaves_stops_it_quietly(
    tmp_path: Path,
) -> None:
    """`responder events --json | head -1` over more JSON than the pipe holds: 141, no traceback."""
    data_dir = tmp_path / "data"

    async def journal_many() -> None:
        journal = Journal(data_dir, Metrics())
        await journal.open()
        await journal.append([make_event(key=f"k{n}") for n in range(LONG_LISTING)])
        await journal.close()

    asyncio.run(journal_many())
    argv = ["events", "--json", "--limit", str(LONG_LISTING)]
    with subprocess.Popen(
        command(argv, data_dir, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=environment(),
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.readline() == b"[\n"
        process.stdout.close()  # as `head -1` does once it has its line
        stderr = process.stderr.read()
        status = process.wait(timeout=120)
    assert_quiet(status, stderr)


@pytest.mark.docker
def test_release_writing_into_a_closed_pipe_ends_quietly_with_141(tmp_path: Path) -> None:
    """`responder release ID | head -1`: the release runs, then ends quietly."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    event = make_event()
    asyncio.run(seed(data_dir, incident(data_dir, event), event))
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            command(["release", INCIDENT_ID], data_dir, tmp_path),
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            env=environment(),
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert_quiet(done.returncode, done.stderr)
