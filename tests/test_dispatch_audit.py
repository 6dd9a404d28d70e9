"""The audit lines the worker writes for an event: one line for an event no playbook wants."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from _incidents import PLAYBOOK, settle

from responder.web.state import AUDIT

if TYPE_CHECKING:
    from conftest import ClientFactory

    from responder.settings import Settings


GLOB = PLAYBOOK.replace("name: contain-shell", "name: any-shell").replace(
    "rules: [Terminal shell in container]", "rules: ['Terminal shell*']"
)
"""A playbook whose rule is a glob: not indexed, so tried on every event."""


async def test_an_event_no_playbook_wants_is_one_line_that_says_why(
    make_client: ClientFactory, settings: Settings
) -> None:
    """One `event.unmatched` line: what `event.accepted` said, each candidate's reason, the rest counted."""
    settings.playbooks.mkdir()
    (settings.playbooks / "shell.yaml").write_text(PLAYBOOK)
    (settings.playbooks / "any-shell.yaml").write_text(GLOB)
    client = await make_client()
    body = {"rule": "Noise", "priority": "Notice", "output": "o", "hostname": "h"}
    response = await client.post("/v1/events/falco", json=body)
    assert response.status == 202
    event_id = (await response.json())["events"][0]["id"]
    await settle(client)
    await client.app[AUDIT].flush()
    lines = [json.loads(line) for line in client.app[AUDIT].path.read_text().splitlines()]
    assert [line["kind"] for line in lines] == ["event.unmatched"]
    [line] = lines
    assert line["event"] == event_id
    assert (line["journal_seq"], line["source"], line["name"]) == (1, "falco", "Noise")
    assert (line["status"], line["priority"], line["target"]) == ("firing", "Notice", None)
    assert line["received_at"]
    assert list(line["not_matched"]) == ["any-shell"]  # the glob is tried on every event
    assert line["not_matched"]["any-shell"].startswith("rule 'Noise' ")
    assert line["not_candidates"] == 1  # contain-shell names another rule: not tried
