"""Two snapshot steps in one playbook: each keeps its own files and manifest, and both are checked.

The worker runs in-process against the real engine; the report's `sha256sum -c` block is run
as written, so it must name every file where it really is.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
from _evidence import sha256_of

from responder.reports import report_dir
from responder.web.state import INCIDENTS, SETTINGS, WORKER

if TYPE_CHECKING:
    from pathlib import Path

    from _docker import Resources
    from conftest import ClientFactory

pytestmark = pytest.mark.docker

RULE = "Terminal shell in container"
# What runs before the pause, then the whole filesystem once it is frozen.
PLAYBOOK = f"""\
name: before-and-after
match:
  rules: [{RULE}]
steps:
  - action: docker:snapshot
    with: {{diff: false}}
  - action: docker:pause
  - action: docker:snapshot
    with: {{top: false, export: true}}
"""


def manifest_files(manifest: Path) -> dict[str, str]:
    """The manifest's files, name to sha256, each checked against the file beside it."""
    listed = {a["name"]: a["sha256"] for a in json.loads(manifest.read_text())["artifacts"]}
    for name, digest in listed.items():
        assert sha256_of(manifest.parent / name) == digest, name
    return listed


async def test_a_second_snapshot_keeps_its_own_files_and_the_report_checks_both(
    make_client: ClientFactory, tmp_path: Path, resources: Resources
) -> None:
    """Regression: the second snapshot overwrote the first one's files and manifest.

    Both wrote into the incident's directory, so the first step's recorded hashes no longer
    matched its inspect, logs and manifest.
    """
    container = resources.container()
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "two.yaml").write_text(PLAYBOOK)
    client = await make_client(playbooks=playbooks)
    body: dict[str, Any] = {
        "rule": RULE,
        "priority": "Notice",
        "output": f"shell in {container.name}",
        "output_fields": {"container.id": container.id[:12]},
    }
    assert (await client.post("/v1/events/falco", json=body)).status == 202
    async with asyncio.timeout(60):
        await client.app[WORKER].idle()
    [row] = await client.app[INCIDENTS].run(lambda store: store.list(10))
    incident = await client.app[INCIDENTS].run(lambda store: store.get(row.id))
    assert incident is not None
    assert incident.state == "contained", incident.steps
    data_dir = client.app[SETTINGS].data_dir
    evidence = data_dir / "evidence" / incident.id

    first = manifest_files(evidence / "manifest.json")
    second = manifest_files(evidence / "step-3" / "manifest.json")
    assert sorted(first) == ["inspect.json", "logs.txt", "top.json"]
    assert sorted(second) == ["diff.json", "export.tar", "inspect.json", "logs.txt"]
    for step, files in ((incident.steps[0], first), (incident.steps[2], second)):
        assert {a.name: a.sha256 for a in step.artifacts} == files
    assert incident.steps[2].detail.endswith(f"saved in {evidence / 'step-3'}")
    paused = json.loads((evidence / "step-3" / "inspect.json").read_text())
    assert paused["State"]["Paused"]
    assert not json.loads((evidence / "inspect.json").read_text())["State"]["Paused"]

    markdown = (report_dir(data_dir, incident.id) / "report.md").read_text()
    script = markdown.split("```sh\ncd ", 1)[1].split("\nEOF", 1)[0]
    checked = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", f"cd {script}\nEOF\n"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert sorted(checked.stdout.splitlines()) == sorted(
        [f"{name}: OK" for name in [*first, "manifest.json"]]
        + [f"step-3/{name}: OK" for name in [*second, "manifest.json"]]
    )
    assert f"tar -tvf {evidence / 'step-3' / 'export.tar'}" in markdown
