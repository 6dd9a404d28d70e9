"""The audit lines the worker writes for an event: one line for an event no playbook wants."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from _incidents import PLAYBOOK, settle

from responder.web.state import AUDIT

if TYPE_CHECKING:
    from conftest import ClientFactory

    from responder.settings import Settings


async def test_an_event_no_playbook_wants_is_one_line_that_says_why(
    make_client: ClientFactory, settings: Settings
) -> None:
    """One `event.unmatched` line: what `event.accepted` said, and each playbook's reason."""
    settings.playbooks.mkdir()
    (settings.playbooks / "shell.yaml").write_text(PLAYBOOK)
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
    assert line["not_matched"]["contain-shell"].startswith("rule 'Noise' is not among")
