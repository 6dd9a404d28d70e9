"""The rule and alertname index gives the scan's verdicts for every playbook it keeps."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from _builders import make_event
from _incidents import FAST, post_and_settle, shell
from hypothesis import given
from hypothesis import strategies as st

from responder.engine import ContainerInfo
from responder.journal import Priority
from responder.playbooks import (
    LoadedPlaybook,
    Playbook,
    PlaybookSet,
    match_candidates,
    match_event,
    needs_container,
)
from responder.testing import FakeEngine

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import ClientFactory

    from responder.journal import Event

NAMES = ["a", "b", "c", "ab"]
PATTERNS = [*NAMES, "a*", "?b", "[ab]", "*"]
WEB = ContainerInfo(
    id="0123456789ab", name="web-1", image="nginx:1.25", labels={"team": "web"}, status="running"
)

_lists = st.lists(st.sampled_from(PATTERNS), max_size=3)
_match = st.fixed_dictionaries(
    {},
    optional={
        "source": st.lists(st.sampled_from(["falco", "alertmanager"]), min_size=1, max_size=2),
        "rules": _lists,
        "alertnames": _lists,
        "priority": st.sampled_from([">=Notice", "<Warning", "==Critical"]),
        "status": st.sampled_from(["firing", "resolved"]),
        "tags": st.just({"any": ["shell"]}),
        "container": st.sampled_from([{"running": True}, {"name": "db-*"}]),
    },
)
_playbook = st.fixed_dictionaries(
    {
        "match": _match,
        "enabled": st.booleans(),
        "final": st.booleans(),
        "order": st.integers(0, 3),
    }
)


def _loaded(index: int, data: dict[str, Any]) -> LoadedPlaybook:
    """A playbook as the loader gives it, without the YAML file."""
    steps = [{"action": "docker:pause"}]
    playbook = Playbook.model_validate({"name": f"p{index}", "steps": steps, **data})
    return LoadedPlaybook(
        playbook=playbook, file="generated.yaml", line=index, digest="", params=()
    )


@st.composite
def playbook_sets(draw: st.DrawFn) -> PlaybookSet:
    """Up to a dozen playbooks, ordered as the loader orders them."""
    loaded = [_loaded(i, data) for i, data in enumerate(draw(st.lists(_playbook, max_size=12)))]
    return PlaybookSet(playbooks=tuple(sorted(loaded, key=lambda p: p.playbook.order)))


@st.composite
def events(draw: st.DrawFn) -> Event:
    """A Falco event or an Alertmanager alert with one of the names the playbooks use or not."""
    return make_event(
        source=draw(st.sampled_from(["falco", "alertmanager"])),
        name=draw(st.sampled_from([*NAMES, "x", "a*"])),
        priority=draw(st.sampled_from(list(Priority))),
        status=draw(st.sampled_from(["firing", "resolved"])),
        tags=draw(st.sampled_from([("shell",), ()])),
    )


@given(playbook_sets(), events(), st.sampled_from([None, WEB]))
def test_candidates_get_the_scans_verdicts_and_the_rest_never_match(
    playbooks: PlaybookSet, event: Event, container: ContainerInfo | None
) -> None:
    """Same verdicts for the candidates, in order; the others fail on an event condition."""
    full = match_event(event, playbooks, container)
    indexed = match_candidates(event, playbooks, container)
    kept = {v.playbook.name for v in indexed}
    assert [v for v in full if v.playbook.name in kept] == indexed
    left_out = [v for v in full if v.playbook.name not in kept]
    assert not any(v.matched or v.container_missing for v in left_out)
    assert [v.playbook.name for v in full if v.matched] == [
        v.playbook.name for v in indexed if v.matched
    ]
    assert needs_container(full) == needs_container(indexed)


def test_a_thousand_playbooks_leave_one_candidate_per_rule() -> None:
    """With distinct rules, an event is tried against its own rule's playbook and the unindexed."""
    loaded = [_loaded(i, {"match": {"rules": [f"rule {i}"]}}) for i in range(1000)]
    loaded.append(_loaded(1000, {"match": {"rules": ["rule *"]}}))
    loaded.append(_loaded(1001, {"match": {"priority": ">=Critical"}}))
    playbooks = PlaybookSet(playbooks=tuple(loaded))
    indexed = match_candidates(make_event(name="rule 7"), playbooks)
    assert [v.playbook.name for v in indexed] == ["p7", "p1000", "p1001"]
    assert [v.playbook.name for v in indexed if v.matched] == ["p7", "p1000"]


async def test_an_unwanted_event_is_audited_with_its_candidates_and_a_count_of_the_rest(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    """The audit line names why each candidate did not match, and counts the playbooks left out."""
    directory = tmp_path / "many"
    directory.mkdir()
    rules = [f"- name: p{i}\n  match: {{rules: ['rule {i}']}}\n" for i in range(40)]
    rules.append("- name: any-critical\n  match: {priority: '>=Critical'}\n")
    rules.append("- name: off\n  enabled: false\n  match: {rules: ['rule 3']}\n")
    steps = "  steps: [{action: 'docker:pause'}]\n"
    (directory / "many.yaml").write_text("".join(rule + steps for rule in rules))
    engine = FakeEngine()
    client = await make_client(engine=engine, playbooks=directory, limits=FAST)
    assert await post_and_settle(client, {**shell(engine.add()), "rule": "rule 3"}) == 202
    lines = (tmp_path / "data" / "audit.jsonl").read_text().splitlines()
    (line,) = [json.loads(x) for x in lines if json.loads(x)["kind"] == "event.matched"]
    assert line["playbooks"] == ["p3"]
    assert line["not_matched"] == {"any-critical": "priority Notice is not >=Critical"}
    assert line["not_candidates"] == 40  # 39 other rules and the disabled one
