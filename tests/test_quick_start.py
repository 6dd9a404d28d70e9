"""The README's quick start, run as a new user runs it, against `responder serve` and the engine.

Issue 15, section 8: its first example named a container that did not exist, so the first
incident anyone saw was `failed`. The commands are taken from README.md (the shell blocks
between `<!-- quick-start -->` and `<!-- /quick-start -->`, as .ci/run takes the test command)
and run with bash in a directory laid out like the checkout (`./playbooks` the shipped ones,
`.venv/bin/responder`, `./data`) while `.venv/bin/responder serve` runs there. Only what this
machine needs changes: the image becomes the local busybox test image (no registry), the
container's name one no other test uses, the port a free one, and `ID` the incident's id.
Issue 16 added the walk's report block, between looking at the incident and releasing it.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import docker.errors
import pytest
from _peers import free_port, require_binary

from responder.testing import TEST_IMAGE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from _docker import Resources

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PORT = 8470
NAME = "web-1"
START_WAIT = 20.0
CONTAIN_WAIT = 60.0
ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")


def _blocks() -> list[str]:
    """The quick start's shell blocks, in order, as README.md writes them."""
    text = README.read_text(encoding="utf-8")
    start, end = text.index("<!-- quick-start -->"), text.index("<!-- /quick-start -->")
    return re.findall(r"^```sh\n(.*?)^```$", text[start:end], flags=re.MULTILINE | re.DOTALL)


def _localised(block: str, name: str, port: int) -> str:
    """The block with this machine's image, a unique container name and the server's port."""
    block = re.sub(r"\bbusybox:[\w.-]+", TEST_IMAGE, block)
    block = re.sub(rf"\b{re.escape(NAME)}\b", name, block)
    return block.replace(f"localhost:{PORT}", f"localhost:{port}")


def _environment(port: int) -> dict[str, str]:
    """The user's environment without responder settings, the port set, curl's proxy off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESPONDER_")}
    return env | {"RESPONDER_PORT": str(port), "NO_PROXY": "localhost,127.0.0.1"}


def _checkout(directory: Path) -> Path:
    """A directory laid out as the README expects: ./playbooks and .venv/bin/responder."""
    (directory / "playbooks").symlink_to(ROOT / "playbooks")
    script = directory / ".venv" / "bin" / "responder"
    script.parent.mkdir(parents=True)
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m responder "$@"\n', encoding="utf-8")
    script.chmod(0o755)
    return directory


@contextlib.contextmanager
def _serving(directory: Path, env: dict[str, str], port: int) -> Iterator[Path]:
    """`.venv/bin/responder serve` in `directory` until the block ends; its log."""
    log = directory / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [".venv/bin/responder", "serve"], cwd=directory, env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + START_WAIT
        while True:
            assert server.poll() is None, f"serve exited:\n{log.read_text()}"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            assert time.monotonic() < deadline, f"serve did not listen:\n{log.read_text()}"
            time.sleep(0.05)
        yield log
    finally:
        server.terminate()
        server.wait(30)


def _run(block: str, directory: Path, env: dict[str, str]) -> str:
    """Run a block with bash, stopping at the first failing command; its output."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, f"{block}\nexited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


def _until_contained(look: str, directory: Path, env: dict[str, str], log: Path) -> str:
    """Run the block that looks at the incident until it shows it contained; its output."""
    deadline = time.monotonic() + CONTAIN_WAIT
    while True:
        output = _run(look, directory, env)
        if "contained" in output and "paused" in output:
            return output
        assert time.monotonic() < deadline, f"not contained:\n{output}\n{log.read_text()}"
        time.sleep(0.2)


def _incident_of(listing: str, name: str) -> str:
    """The id in the first column of the `responder incidents` row about `name`."""
    ids = [
        found[0] for line in listing.splitlines() if name in line if (found := ULID.search(line))
    ]
    assert len(ids) == 1, f"not one incident about {name}:\n{listing}"
    return ids[0]


@pytest.fixture
def name(resources: Resources) -> Iterator[str]:
    """The quick start's container name, unique to this test; removed afterwards."""
    unique = resources.name("quickstart")
    yield unique
    with contextlib.suppress(docker.errors.NotFound):
        resources.api.remove_container(unique, force=True)


def test_readme_quick_start_contains_then_releases_its_container(
    name: str, resources: Resources, tmp_path: Path
) -> None:
    """Start a production container, alert, see it contained, read its report, release: running."""
    require_binary("curl", package="curl")
    require_binary("docker", package="docker.io")
    blocks = _blocks()
    assert len(blocks) == len(("start", "alert", "look", "report", "release")), blocks
    port = free_port()
    start, alert, look, report, release = (_localised(b, name, port) for b in blocks)
    directory, env = _checkout(tmp_path), _environment(port)
    with _serving(directory, env, port) as log:
        _run(start, directory, env)
        assert '"status": "accepted"' in _run(alert, directory, env)
        contained = _until_contained(look, directory, env, log)
        assert "paused, networks: 0" in contained
        incident = _incident_of(contained, name)
        assert resources.info(name).status == "paused"
        reported = _run(re.sub(r"\bID\b", incident, report), directory, env)
        released = _run(re.sub(r"\bID\b", incident, release), directory, env)
    assert f"# Incident report `{incident}`" in reported
    assert "docker:pause" in reported
    assert f"responder release --data-dir {directory.resolve() / 'data'} {incident}" in reported
    assert f"incident {incident}: released" in released
    assert "running, networks: 1" in released
    with pytest.raises(docker.errors.NotFound):
        resources.info(name)
