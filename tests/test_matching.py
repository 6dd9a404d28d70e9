"""Matching: which playbooks an event matches, in what order, and the reasons given."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest
from _builders import load_dir, load_text, make_alert, make_event, write_yaml

from responder.engine import ContainerInfo
from responder.journal import Priority
from responder.playbooks import Verdict, match_event, needs_container

if TYPE_CHECKING:
    from pathlib import Path

    from responder.journal import Event

PAUSE = "steps:\n  - action: docker:pause\n"
WEB = ContainerInfo(
    id="0123456789ab",
    name="web-1",
    image="nginx:1.25",
    labels={"com.example.tier": "frontend", "team": "web"},
    status="running",
)


def verdict(
    tmp_path: Path, match: str, event: Event, container: ContainerInfo | None = None
) -> Verdict:
    """The verdict of one playbook whose `match:` block is `match` (YAML, unindented)."""
    body = textwrap.indent(textwrap.dedent(match).strip("\n"), "  ")
    playbooks = load_text(tmp_path, f"name: only\nmatch:\n{body}\n{PAUSE}")
    (result,) = match_event(event, playbooks, container)
    return result


def playbook(name: str, extra: str = "", match: str = "{}") -> str:
    """One playbook document named `name`, with extra top-level keys and a flow-style match."""
    return f"name: {name}\n{extra}match: {match}\n{PAUSE}"


def names(verdicts: list[Verdict]) -> list[str]:
    """Playbook names in the order they were tried."""
    return [v.playbook.name for v in verdicts]


def matched(verdicts: list[Verdict]) -> list[str]:
    """Names of the playbooks that matched, in order."""
    return [v.playbook.name for v in verdicts if v.matched]


def reasons(result: Verdict) -> str:
    """Every reason of a verdict, as one string to search."""
    return " | ".join(result.reasons)


# empty match, source


def test_empty_match_matches_every_event(tmp_path: Path) -> None:
    """An empty `match` matches any event and says so."""
    result = verdict(tmp_path, "{}", make_event())
    assert result.matched
    assert result.reasons == ("matches every event",)


def test_source_matches(tmp_path: Path) -> None:
    """`source: falco` matches a Falco event."""
    result = verdict(tmp_path, "source: falco", make_event())
    assert result.matched
    assert "source is falco" in reasons(result)


def test_source_mismatch_says_why(tmp_path: Path) -> None:
    """`source: falco` does not match an Alertmanager event, and the reason names both."""
    result = verdict(tmp_path, "source: falco", make_alert())
    assert not result.matched
    assert "source alertmanager is not" in reasons(result)


def test_source_list_matches_either(tmp_path: Path) -> None:
    """A list of sources matches an event from any of them."""
    assert verdict(tmp_path, "source: [falco, alertmanager]", make_alert()).matched


# rules and alertnames


def test_rule_exact_name_matches(tmp_path: Path) -> None:
    """A rule named exactly matches."""
    result = verdict(tmp_path, 'rules: ["Terminal shell in container"]', make_event())
    assert result.matched
    assert "rule 'Terminal shell in container' listed" in reasons(result)


def test_rule_single_string_matches(tmp_path: Path) -> None:
    """`rules` given as one string matches like a one-item list."""
    assert verdict(tmp_path, "rules: Terminal shell in container", make_event()).matched


def test_rule_glob_matches(tmp_path: Path) -> None:
    """A rule glob matches a rule name it covers."""
    assert verdict(tmp_path, 'rules: ["Terminal shell*"]', make_event()).matched


def test_rule_glob_is_case_sensitive(tmp_path: Path) -> None:
    """A rule glob compares case as written."""
    assert not verdict(tmp_path, 'rules: ["terminal shell*"]', make_event()).matched


def test_rule_not_listed_says_why(tmp_path: Path) -> None:
    """An unlisted rule does not match; the reason names the rule and the list."""
    result = verdict(tmp_path, 'rules: ["Read sensitive file*"]', make_event())
    assert not result.matched
    assert "rule 'Terminal shell in container' is not among" in reasons(result)
    assert "Read sensitive file*" in reasons(result)


def test_rules_on_alertmanager_event_do_not_match(tmp_path: Path) -> None:
    """`rules` never match an Alertmanager event, even a glob for everything, and say why."""
    result = verdict(tmp_path, 'rules: ["*"]', make_alert())
    assert not result.matched
    assert "rules apply to Falco events" in reasons(result)


def test_alertname_exact_matches(tmp_path: Path) -> None:
    """An alertname named exactly matches."""
    result = verdict(tmp_path, "alertnames: [HighCPU]", make_alert())
    assert result.matched
    assert "alertname 'HighCPU' listed" in reasons(result)


def test_alertname_glob_matches(tmp_path: Path) -> None:
    """An alertname glob matches."""
    assert verdict(tmp_path, 'alertnames: ["High*"]', make_alert()).matched


def test_alertname_not_listed_says_why(tmp_path: Path) -> None:
    """An unlisted alertname does not match, and the reason names it."""
    result = verdict(tmp_path, "alertnames: [DiskFull]", make_alert())
    assert not result.matched
    assert "alertname 'HighCPU' is not among" in reasons(result)


def test_alertnames_on_falco_event_do_not_match(tmp_path: Path) -> None:
    """`alertnames` never match a Falco event, and say why."""
    result = verdict(tmp_path, 'alertnames: ["*"]', make_event())
    assert not result.matched
    assert "alertnames apply to Alertmanager events" in reasons(result)


# priority


@pytest.mark.parametrize(
    ("condition", "priority", "expected"),
    [
        (">=Notice", Priority.NOTICE, True),
        (">=Notice", Priority.CRITICAL, True),
        (">=Notice", Priority.INFORMATIONAL, False),
        (">Warning", Priority.WARNING, False),
        ("<Error", Priority.WARNING, True),
        ("<=Error", Priority.CRITICAL, False),
        ("==Critical", Priority.CRITICAL, True),
        ("Critical", Priority.ERROR, False),
        ("!=Debug", Priority.DEBUG, False),
    ],
)
def test_priority_comparators(
    tmp_path: Path, condition: str, priority: Priority, expected: bool
) -> None:
    """Each priority comparator matches on the ordered scale."""
    result = verdict(tmp_path, f'priority: "{condition}"', make_event(priority=priority))
    assert result.matched is expected


def test_priority_failure_says_why(tmp_path: Path) -> None:
    """A priority below the bar gives a reason naming the event's level and the condition."""
    result = verdict(tmp_path, 'priority: ">=Error"', make_event(priority=Priority.WARNING))
    assert "priority Warning is not >=Error" in reasons(result)


# status


def test_status_matches(tmp_path: Path) -> None:
    """`status: firing` matches a firing alert."""
    assert verdict(tmp_path, "status: firing", make_alert()).matched


def test_status_mismatch_says_why(tmp_path: Path) -> None:
    """`status: firing` does not match a resolved alert, and says it is resolved."""
    result = verdict(tmp_path, "status: firing", make_alert(status="resolved"))
    assert not result.matched
    assert "status is resolved" in reasons(result)


# tags


def test_tags_any_matches(tmp_path: Path) -> None:
    """`tags: {any: [...]}` matches an event with one of the tags."""
    assert verdict(tmp_path, "tags: {any: [container, host]}", make_event()).matched


def test_tags_all_mismatch_says_why(tmp_path: Path) -> None:
    """`tags: {all: [...]}` fails when a tag is missing, naming it."""
    result = verdict(tmp_path, "tags: {all: [container, network]}", make_event())
    assert not result.matched
    assert "network" in reasons(result)


def test_tags_none_excludes(tmp_path: Path) -> None:
    """`tags: {none: [...]}` fails when the event carries an excluded tag."""
    assert not verdict(tmp_path, "tags: {none: [shell]}", make_event()).matched


# fields


@pytest.mark.parametrize("key", ["proc.aname[2]", "k8s.ns-name", "user_login.uid", "fd.name"])
def test_field_key_with_punctuation_matches(tmp_path: Path, key: str) -> None:
    """Field keys with dots, dashes, underscores and brackets are looked up as written."""
    event = make_event(fields={key: "expected", "other": "x"})
    result = verdict(tmp_path, f"fields:\n  {key}: expected", event)
    assert result.matched
    assert f"field {key} equals holds" in reasons(result)


def test_field_bracket_key_is_not_an_index(tmp_path: Path) -> None:
    """`proc.aname[2]` names that field, not item 2 of `proc.aname`."""
    event = make_event(fields={"proc.aname": ["a", "b", "bash"], "proc.aname[2]": "sshd"})
    assert not verdict(tmp_path, "fields:\n  proc.aname[2]: bash", event).matched


def test_field_dotted_key_is_not_a_path(tmp_path: Path) -> None:
    """`user_login.uid` names that flat key, not `uid` inside `user_login`."""
    event = make_event(fields={"user_login": {"uid": 0}})
    result = verdict(tmp_path, "fields:\n  user_login.uid: 0", event)
    assert not result.matched
    assert "is missing" in reasons(result)


def test_field_mismatch_says_why(tmp_path: Path) -> None:
    """A field that fails names the field, its value and what was wanted."""
    event = make_event(fields={"k8s.ns-name": "default"})
    result = verdict(tmp_path, "fields:\n  k8s.ns-name: kube-system", event)
    assert not result.matched
    assert "field k8s.ns-name 'default' is not 'kube-system'" in reasons(result)


def test_field_missing_says_missing(tmp_path: Path) -> None:
    """A field the event lacks fails an `in` condition, saying it is missing."""
    result = verdict(tmp_path, "fields:\n  proc.name: [bash, sh]", make_event(fields={}))
    assert not result.matched
    assert "field proc.name is missing" in reasons(result)


def test_field_missing_satisfies_not_in(tmp_path: Path) -> None:
    """A field the event lacks satisfies `not_in`."""
    event = make_event(fields={})
    result = verdict(tmp_path, "fields:\n  container.image.repository: {not_in: [falco]}", event)
    assert result.matched


def test_field_null_satisfies_exists_false(tmp_path: Path) -> None:
    """A null field satisfies `exists: false`."""
    event = make_event(fields={"proc.pname": None})
    assert verdict(tmp_path, "fields:\n  proc.pname: {exists: false}", event).matched


def test_field_integer_value_matches_numeric_comparison(tmp_path: Path) -> None:
    """A field kept as an integer compares as a number."""
    event = make_event(fields={"user.uid": 0})
    assert verdict(tmp_path, "fields:\n  user.uid: {lt: 1000}", event).matched


def test_every_field_condition_must_hold(tmp_path: Path) -> None:
    """Two field conditions: both must hold."""
    event = make_event(fields={"proc.name": "bash", "user.name": "root"})
    both = "fields:\n  proc.name: bash\n  user.name: www-data"
    assert not verdict(tmp_path, both, event).matched


# labels and annotations


def test_label_glob_matches(tmp_path: Path) -> None:
    """A label condition with a glob matches the label value."""
    assert verdict(tmp_path, "labels:\n  container: {glob: 'we*'}", make_alert()).matched


def test_label_mismatch_says_why(tmp_path: Path) -> None:
    """A label that fails is named in the reason."""
    result = verdict(tmp_path, "labels:\n  severity: critical", make_alert())
    assert not result.matched
    assert "label severity 'warning' is not 'critical'" in reasons(result)


def test_annotation_regex_matches(tmp_path: Path) -> None:
    """An annotation condition with a regex matches the annotation value."""
    result = verdict(tmp_path, "annotations:\n  summary: {regex: 'CPU above \\d+%'}", make_alert())
    assert result.matched
    assert "annotation summary regex holds" in reasons(result)


def test_annotation_missing_fails(tmp_path: Path) -> None:
    """A missing annotation fails an `exists: true` condition."""
    result = verdict(tmp_path, "annotations:\n  runbook_url: {exists: true}", make_alert())
    assert not result.matched
    assert "annotation runbook_url is missing" in reasons(result)


# hostname and output


def test_hostname_matches(tmp_path: Path) -> None:
    """A hostname condition matches the event's hostname."""
    assert verdict(tmp_path, "hostname: {glob: 'node-*'}", make_event()).matched


def test_hostname_missing_fails(tmp_path: Path) -> None:
    """An event without a hostname fails a hostname condition, saying it is missing."""
    result = verdict(tmp_path, "hostname: node-1", make_event(hostname=None))
    assert not result.matched
    assert "hostname is missing" in reasons(result)


def test_output_regex_matches(tmp_path: Path) -> None:
    """An output regex searches the Falco output line."""
    event = make_event(output="Shell spawned (user=root shell=bash parent=runc)")
    result = verdict(tmp_path, "output: {regex: 'user=root\\b'}", event)
    assert result.matched
    assert "output holds" in reasons(result)


def test_output_regex_mismatch_says_why(tmp_path: Path) -> None:
    """An output regex that does not match names the pattern."""
    result = verdict(tmp_path, "output: {regex: 'user=root'}", make_event(output="user=nobody"))
    assert not result.matched
    assert "output 'user=nobody' !~ /user=root/" in reasons(result)


# container selectors


def test_container_name_matches(tmp_path: Path) -> None:
    """A container name selector matches the live container's name."""
    result = verdict(tmp_path, "container:\n  name: {glob: 'web-*'}", make_event(), WEB)
    assert result.matched
    assert "container name holds" in reasons(result)


def test_container_image_mismatch_says_why(tmp_path: Path) -> None:
    """A container image selector that fails names the image."""
    result = verdict(tmp_path, "container:\n  image: {glob: 'redis:*'}", make_event(), WEB)
    assert not result.matched
    assert "container image 'nginx:1.25' matches none of" in reasons(result)


def test_container_label_with_dots_matches(tmp_path: Path) -> None:
    """A Docker label selector with a dotted key matches the label value."""
    selector = "container:\n  labels:\n    com.example.tier: frontend"
    assert verdict(tmp_path, selector, make_event(), WEB).matched


def test_container_label_absent_satisfies_exists_false(tmp_path: Path) -> None:
    """A Docker label the container lacks satisfies `exists: false`."""
    selector = "container:\n  labels:\n    responder.protect: {exists: false}"
    assert verdict(tmp_path, selector, make_event(), WEB).matched


def test_container_label_mismatch_says_why(tmp_path: Path) -> None:
    """A Docker label that fails is named in the reason."""
    selector = "container:\n  labels:\n    team: payments"
    result = verdict(tmp_path, selector, make_event(), WEB)
    assert not result.matched
    assert "container label team 'web' is not 'payments'" in reasons(result)


def test_container_running_matches_running(tmp_path: Path) -> None:
    """`running: true` matches a running container."""
    assert verdict(tmp_path, "container:\n  running: true", make_event(), WEB).matched


def test_container_running_fails_for_paused(tmp_path: Path) -> None:
    """`running: true` does not match a paused container, and says it is paused."""
    paused = ContainerInfo(id=WEB.id, name=WEB.name, image=WEB.image, status="paused")
    result = verdict(tmp_path, "container:\n  running: true", make_event(), paused)
    assert not result.matched
    assert "container is paused" in reasons(result)


def test_container_running_false_matches_exited(tmp_path: Path) -> None:
    """`running: false` matches an exited container."""
    exited = ContainerInfo(id=WEB.id, name=WEB.name, image=WEB.image, status="exited")
    assert verdict(tmp_path, "container:\n  running: false", make_event(), exited).matched


def test_container_selector_without_container_does_not_match(tmp_path: Path) -> None:
    """A container selector with no live container does not match, and says none was found."""
    result = verdict(tmp_path, "container:\n  name: {glob: '*'}", make_event(), None)
    assert not result.matched
    assert "none was found" in reasons(result)
    assert result.container_missing
    assert needs_container([result])  # the worker looks the container up and matches again


def test_no_container_selector_matches_without_container(tmp_path: Path) -> None:
    """Without a container selector, a missing container does not stop a match."""
    assert verdict(tmp_path, "source: falco", make_event(), None).matched


def test_event_checks_come_before_container_checks(tmp_path: Path) -> None:
    """When the event already fails, the reason is the event's, not the missing container."""
    match = "source: alertmanager\ncontainer:\n  name: web-1"
    result = verdict(tmp_path, match, make_event(), None)
    assert result.reasons == ("source falco is not ['alertmanager']",)
    assert not result.container_missing
    assert not needs_container([result])  # no container could make it match: no inspect


# reasons of a match


def test_matched_reasons_list_every_condition_in_order(tmp_path: Path) -> None:
    """A match lists why, one reason per condition, in the order they were checked."""
    event = make_event(fields={"proc.name": "bash"})
    match = """
        source: falco
        rules: ["Terminal shell*"]
        priority: ">=Notice"
        fields:
          proc.name: [bash, sh]
    """
    result = verdict(tmp_path, match, event)
    assert result.reasons == (
        "source is falco",
        "rule 'Terminal shell in container' listed",
        "priority Notice >=Notice",
        "field proc.name in holds",
    )


def test_failed_verdict_gives_the_first_failure_only(tmp_path: Path) -> None:
    """A failing verdict gives one reason: the first condition that failed."""
    result = verdict(tmp_path, "source: alertmanager\nstatus: resolved", make_event())
    assert len(result.reasons) == 1
    assert result.reasons[0].startswith("source falco")


# order, final, disabled


def test_playbooks_tried_by_order_then_file_then_position(tmp_path: Path) -> None:
    """Lower `order` first; ties by file name, then position in the file."""
    write_yaml(
        tmp_path,
        "b.yaml",
        playbook("b-first")
        + "---\n"
        + playbook("b-second")
        + "---\n"
        + playbook("b-early", "order: 5\n"),
    )
    write_yaml(
        tmp_path, "a.yaml", playbook("a-late", "order: 200\n") + "---\n" + playbook("a-only")
    )
    verdicts = match_event(make_event(), load_dir(tmp_path))
    assert names(verdicts) == ["b-early", "a-only", "b-first", "b-second", "a-late"]


def test_every_matching_playbook_applies_when_none_is_final(tmp_path: Path) -> None:
    """Without `final`, every matching playbook matches, in order."""
    write_yaml(
        tmp_path,
        "p.yaml",
        playbook("one")
        + "---\n"
        + playbook("two", match="{source: alertmanager}")
        + "---\n"
        + playbook("three"),
    )
    verdicts = match_event(make_event(), load_dir(tmp_path))
    assert matched(verdicts) == ["one", "three"]


def test_final_playbook_stops_later_playbooks(tmp_path: Path) -> None:
    """A matching `final: true` playbook stops the later ones; they say they were not tried."""
    write_yaml(
        tmp_path,
        "p.yaml",
        playbook("first")
        + "---\n"
        + playbook("stopper", "final: true\n")
        + "---\n"
        + playbook("later"),
    )
    verdicts = match_event(make_event(), load_dir(tmp_path))
    assert matched(verdicts) == ["first", "stopper"]
    assert verdicts[2].reasons == ("not tried: stopper is final",)


def test_final_playbook_that_does_not_match_stops_nothing(tmp_path: Path) -> None:
    """A `final: true` playbook that does not match lets later playbooks be tried."""
    write_yaml(
        tmp_path,
        "p.yaml",
        playbook("stopper", "final: true\n", "{source: alertmanager}")
        + "---\n"
        + playbook("later"),
    )
    assert matched(match_event(make_event(), load_dir(tmp_path))) == ["later"]


def test_final_follows_order_not_file_position(tmp_path: Path) -> None:
    """`final` stops the playbooks tried after it by `order`, even those written before it."""
    write_yaml(
        tmp_path,
        "p.yaml",
        playbook("written-first", "order: 50\n")
        + "---\n"
        + playbook("stopper", "order: 10\nfinal: true\n"),
    )
    verdicts = match_event(make_event(), load_dir(tmp_path))
    assert matched(verdicts) == ["stopper"]
    assert verdicts[1].reasons == ("not tried: stopper is final",)


def test_disabled_playbook_never_matches(tmp_path: Path) -> None:
    """A disabled playbook does not match, even with an empty match; its reason is `disabled`."""
    write_yaml(tmp_path, "p.yaml", playbook("switched-off", "enabled: false\n"))
    (result,) = match_event(make_event(), load_dir(tmp_path))
    assert not result.matched
    assert result.reasons == ("disabled",)


def test_disabled_final_playbook_stops_nothing(tmp_path: Path) -> None:
    """A disabled `final: true` playbook does not stop later playbooks."""
    write_yaml(
        tmp_path,
        "p.yaml",
        playbook("switched-off", "enabled: false\nfinal: true\n") + "---\n" + playbook("later"),
    )
    assert matched(match_event(make_event(), load_dir(tmp_path))) == ["later"]


def test_every_playbook_gets_a_verdict(tmp_path: Path) -> None:
    """Matching returns one verdict per loaded playbook, matched or not."""
    write_yaml(
        tmp_path,
        "p.yaml",
        playbook("a") + "---\n" + playbook("b", match="{source: alertmanager}"),
    )
    assert names(match_event(make_event(), load_dir(tmp_path))) == ["a", "b"]
