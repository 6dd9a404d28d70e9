"""The service log: one line per record, whatever alert text a record's arguments or exception hold.

Regression for issue 15 section 4: a line break in `container.name` or `proc.cmdline` forged a
whole record (`2026-12-06 23:59:59,000 CRITICAL responder: FORGED LOG LINE`) in the log.
"""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from _hostile import HIDDEN, LINE_BREAKS
from _peers import free_port

from responder.cli.logs import configure_logging

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

FORGED = "2026-12-06 23:59:59,000 CRITICAL responder: FORGED LOG LINE"
RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")
INDENT = "    "


def forged(brk: str) -> str:
    """Alert text that tries to end its record and write one of its own."""
    return f"web-1{brk}{FORGED}{brk}"


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """The service's log set-up (as `serve` makes it), writing to a string; undone after."""
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = configure_logging(logging.INFO, stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def assert_lines_belong_to_records(text: str, records: int) -> None:
    """`records` lines start a record; every other line is indented under one; none is forged."""
    lines = text.splitlines()
    assert sum(1 for line in lines if RECORD.match(line)) == records, text
    for line in lines:
        assert RECORD.match(line) or line.startswith(INDENT), line
        assert not line.lstrip().startswith(FORGED), line


def log_alert_values(value: str) -> None:
    """What the responder logs about an alert: container, rule, output, host, in four records."""
    logging.getLogger("responder.incident_runner").warning(
        "cannot look up container %s: %s", value, "no such container"
    )
    logging.getLogger("responder.worker").info("event %s matched: %s", value, value)
    logging.getLogger("responder.notify").warning("oncall (x) | Alert: %s", value)
    logging.getLogger("responder").error("host %s: %r", value, {"proc.cmdline": value})


@pytest.mark.parametrize("brk", LINE_BREAKS)
def test_a_record_is_one_line_whatever_its_arguments_hold(log_text: io.StringIO, brk: str) -> None:
    """A line break in a container name, rule, output or host is an escape inside its record."""
    log_alert_values(forged(brk))
    assert_lines_belong_to_records(log_text.getvalue(), records=4)
    assert len(log_text.getvalue().splitlines()) == 4


@pytest.mark.parametrize("char", HIDDEN)
def test_a_hidden_character_in_a_record_is_shown_as_an_escape(
    log_text: io.StringIO, char: str
) -> None:
    """Escape sequences, NUL, bidi overrides and zero-width characters reach no terminal."""
    log_alert_values(f"web-1{char}x")
    text = log_text.getvalue()
    assert char not in text.replace("\n", "")
    assert text.count("web-1\\") == 6  # the last record holds it twice


def look_up(name: str) -> None:
    """Fail the way a lookup of an alert's container may: its name in two chained exceptions."""
    known: dict[str, str] = {}
    try:
        known[name]
    except KeyError as exc:
        raise ValueError(f"no container {name}") from exc


@pytest.mark.parametrize("brk", LINE_BREAKS)
def test_a_traceback_is_indented_under_its_record_with_each_exception_on_one_line(
    log_text: io.StringIO, brk: str
) -> None:
    """Ours prints; an exception's text, which may quote the alert, is one line, causes too."""
    try:
        look_up(forged(brk))
    except ValueError:
        logging.getLogger("responder.worker").exception("incident %s failed", forged(brk))
    text = log_text.getvalue()
    assert_lines_belong_to_records(text, records=1)
    lines = text.splitlines()
    assert f"{INDENT}Traceback (most recent call last):" in lines
    assert f"{INDENT}The above exception was the direct cause of the following exception:" in lines
    assert sum(1 for line in lines if line.startswith(f"{INDENT}KeyError: ")) == 1
    assert sum(1 for line in lines if line.startswith(f"{INDENT}ValueError: no container")) == 1


def test_an_exception_raised_while_handling_another_prints_both_on_one_line_each(
    log_text: io.StringIO,
) -> None:
    """An implicit chain (`During handling of ...`) shows each exception's text on one line."""
    known: dict[str, str] = {}
    try:
        try:
            known[forged("\n")]
        except KeyError:
            known[forged("\u2028")]
    except KeyError:
        logging.getLogger("responder").exception("lookup failed")
    text = log_text.getvalue()
    assert_lines_belong_to_records(text, records=1)
    lines = text.splitlines()
    assert f"{INDENT}During handling of the above exception, another exception occurred:" in lines
    assert sum(1 for line in lines if line.startswith(f"{INDENT}KeyError: ")) == 2


def test_an_exception_group_lists_each_member_on_one_line(log_text: io.StringIO) -> None:
    """Members of a group (asyncio.TaskGroup raises them) are indented, each text one line."""
    group = ExceptionGroup("steps failed", [ValueError(forged("\n")), OSError(forged("\r"))])
    try:
        raise group
    except ExceptionGroup:
        logging.getLogger("responder").exception("two steps failed")
    text = log_text.getvalue()
    assert_lines_belong_to_records(text, records=1)
    assert f"{INDENT}  [1/2] of the group:" in text.splitlines()
    assert sum(1 for line in text.splitlines() if "ValueError: web-1\\n" in line) == 1


def test_notes_on_an_exception_stay_on_its_line(log_text: io.StringIO) -> None:
    """`add_note` text, which may quote the alert, joins the exception's one line."""
    error = RuntimeError("engine said no")
    error.add_note(forged("\n"))
    try:
        raise error
    except RuntimeError:
        logging.getLogger("responder").exception("lookup failed")
    text = log_text.getvalue()
    assert_lines_belong_to_records(text, records=1)
    [line] = [line for line in text.splitlines() if "RuntimeError" in line]
    assert line == f"{INDENT}RuntimeError: engine said no\\nweb-1\\n{FORGED}"


def test_a_stack_is_indented_under_its_record(log_text: io.StringIO) -> None:
    """`stack_info` prints as a traceback does, every line under the record."""
    logging.getLogger("responder").warning("where am I: %s", forged("\n"), stack_info=True)
    text = log_text.getvalue()
    assert_lines_belong_to_records(text, records=1)
    assert f"{INDENT}Stack (most recent call last):" in text.splitlines()


def test_configuring_again_replaces_the_handler(log_text: io.StringIO) -> None:
    """A second set-up leaves one handler of ours, the new one; others are kept."""
    root = logging.getLogger()
    before = [h for h in root.handlers if type(h).__name__ != "_ServiceHandler"]
    second = io.StringIO()
    handler = configure_logging(logging.WARNING, second)
    try:
        logging.getLogger("responder").warning("once")
        assert [h for h in root.handlers if type(h).__name__ == "_ServiceHandler"] == [handler]
        assert [h for h in root.handlers if type(h).__name__ != "_ServiceHandler"] == before
        assert log_text.getvalue() == ""
        assert second.getvalue().endswith(" WARNING responder: once\n")
    finally:
        root.removeHandler(handler)


def test_other_commands_warn_one_line_per_record() -> None:
    """Commands but `serve` log through Python's last-resort handler: one line per record too."""
    script = (
        "import logging\n"
        "from responder.cli import main\n"
        "main(['actions'])\n"
        "logging.getLogger('responder.incident_runner').warning("
        "'cannot look up container %s', 'web-1\\n2026-12-06 23:59:59,000 CRITICAL x: FORGED')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert (
        done.stderr
        == "cannot look up container web-1\\n2026-12-06 23:59:59,000 CRITICAL x: FORGED\n"
    )


PLAYBOOKS = """\
name: tell-oncall-falco
match: {source: falco}
steps:
  - action: notify
    with:
      channels: [oncall]
      message: "Shell in {{ container.name or target.ref }} on {{ event.hostname }}: {{ event.output }}"
---
name: tell-oncall-alertmanager
match: {source: alertmanager}
steps:
  - action: notify
    with: {channels: [oncall]}
"""


def hostile_bodies() -> list[tuple[str, dict[str, Any]]]:
    """A Falco event and an Alertmanager alert with a forged record after every line break."""
    bodies: list[tuple[str, dict[str, Any]]] = []
    for number, brk in enumerate(("\n", "\r\n", "\r", "\u2028", "\x85")):
        value = forged(brk)
        falco = {
            "rule": f"Terminal shell{brk}{FORGED}",
            "priority": "Critical",
            "hostname": value,
            "output": f"A shell in {value} (command=bash -c {value})",
            # One container each: events on one container would join one incident.
            "output_fields": {"container.id": f"{number:012x}", "container.name": value},
        }
        alert = {
            "status": "firing",
            "labels": {"alertname": f"HighCPU{brk}{FORGED}", "container": value, value: value},
            "annotations": {"summary": value, "description": f"{FORGED}{brk}{FORGED}"},
        }
        bodies += [("falco", falco), ("alertmanager", {"version": "4", "alerts": [alert]})]
    return bodies


def start_serve(data_dir: Path, playbooks: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m responder serve` on a free port, its stderr (the log) going to `log`."""
    port = free_port()
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "responder", "serve", "--port", str(port)),
                *("--data-dir", str(data_dir), "--playbooks", str(playbooks)),
            ],
            env={**os.environ, "RESPONDER_LOG_LEVEL": "INFO"},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return process, f"http://127.0.0.1:{port}"


async def post_until_accepted(url: str, source: str, body: dict[str, Any]) -> None:
    """POST one body, waiting for the server to listen first."""
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.post(f"{url}/v1/events/{source}", json=body) as response:
                    assert response.status == 202, await response.text()
                    return
            except aiohttp.ClientConnectionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio_sleep(0.1)


async def asyncio_sleep(seconds: float) -> None:
    """Wait without holding the loop."""
    import asyncio  # noqa: PLC0415 - only this helper needs it

    await asyncio.sleep(seconds)


@pytest.mark.docker
async def test_a_real_serve_process_logs_hostile_alerts_one_line_per_record(tmp_path: Path) -> None:
    """End to end, a forged record in a rule, host, output, container name or label stays inside.

    Through intake, the worker, the incident and the `log` channel: each record one line.
    """
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "tell.yaml").write_text(PLAYBOOKS)
    log = tmp_path / "serve.log"
    process, url = start_serve(tmp_path / "data", playbooks, log)
    try:
        bodies = hostile_bodies()
        for source, body in bodies:
            await post_until_accepted(url, source, body)
        deadline = time.monotonic() + 60
        while log.read_text(errors="replace").count("| Report: ") < len(bodies):
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            assert process.poll() is None, log.read_text(errors="replace")
            await asyncio_sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    text = log.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert_lines_belong_to_records(
        text, records=len([line for line in lines if RECORD.match(line)])
    )
    assert all(RECORD.match(line) for line in lines), "no traceback expected"
    assert sum(1 for line in lines if "| Note:" in line) == len(bodies) // 2
    assert sum(1 for line in lines if FORGED in line) >= len(bodies)


def test_the_log_follows_stderr_when_it_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no stream given, records go to the stderr of their time, never to a closed one."""
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    handler = configure_logging(logging.INFO)
    try:
        logging.getLogger("responder").info("to the first")
        monkeypatch.setattr(sys, "stderr", second)
        first.close()  # what a harness does with the stderr it captured
        logging.getLogger("responder").info("to the second")
    finally:
        logging.getLogger().removeHandler(handler)
    assert re.search(r"INFO responder: to the second$", second.getvalue().strip())
    assert "to the first" not in second.getvalue()
