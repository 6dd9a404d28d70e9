"""The playbook loader: every error names file:line:field, and all of a run's errors come together."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _builders import load_dir, load_error, registry, write_yaml

from responder.errors import ConfigError
from responder.playbooks import load_playbooks, playbook_files

if TYPE_CHECKING:
    from pathlib import Path

GOOD = """
name: good
match:
  source: falco
steps:
  - action: docker:pause
"""


def error_for(tmp_path: Path, text: str, channels: set[str] | None = None) -> str:
    """The loader's message for one file `p.yaml` holding `text`, with the directory shortened."""
    write_yaml(tmp_path, "p.yaml", text)
    return load_error([tmp_path], channels).replace(str(tmp_path), "D")


# unknown keys


def test_typo_under_match_names_file_line_and_field(tmp_path: Path) -> None:
    """A `priorty:` typo under match is an unknown field on its own line."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match:
          source: falco
          priorty: ">=Notice"
        steps:
          - action: docker:pause
        """,
    )
    assert message == "D/p.yaml:4: match.priorty: unknown field (check its spelling)"


def test_unknown_top_level_key_is_an_error(tmp_path: Path) -> None:
    """An unknown top-level key is reported at its line."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match: {}
        colour: red
        steps:
          - action: docker:pause
        """,
    )
    assert message == "D/p.yaml:3: colour: unknown field (check its spelling)"


def test_unknown_step_key_is_an_error(tmp_path: Path) -> None:
    """An unknown key in a step (`whith:` for `with:`) is reported at its line."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match: {}
        steps:
          - action: docker:stop
            whith: {timeout: 5}
        """,
    )
    assert message == "D/p.yaml:5: steps.0.whith: unknown field (check its spelling)"


# actions and their parameters


def test_unknown_action_lists_known_actions(tmp_path: Path) -> None:
    """An unknown action is reported at its line, with the list of known actions."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match: {}
        steps:
          - action: docker:pause
          - action: docker:frobnicate
        """,
    )
    assert message.startswith("D/p.yaml:5: steps.1.action: unknown action 'docker:frobnicate'")
    assert "known: " + ", ".join(registry().names()) in message


def test_out_of_range_parameter_names_its_line(tmp_path: Path) -> None:
    """`docker:stop` with `timeout: -1` fails that parameter's model, at its line."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match: {}
        steps:
          - action: docker:stop
            with:
              timeout: -1
        """,
    )
    assert message.startswith("D/p.yaml:6: steps.0.with.timeout: ")
    assert "greater than or equal to 0" in message


def test_unknown_signal_names_its_line(tmp_path: Path) -> None:
    """`docker:kill` with `signal: SIGFOO` is refused at its line, naming the signal."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match: {}
        steps:
          - action: docker:kill
            with: {signal: SIGFOO}
        """,
    )
    assert message.startswith("D/p.yaml:5: steps.0.with.signal: ")
    assert "unknown signal 'SIGFOO'" in message


def test_unknown_parameter_key_names_its_line(tmp_path: Path) -> None:
    """A parameter the action does not take is an unknown field at its line."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match: {}
        steps:
          - action: docker:pause
            with:
              force: true
        """,
    )
    assert message == "D/p.yaml:6: steps.0.with.force: unknown field (check its spelling)"


def test_unknown_channel_names_its_line_and_configured_channels(tmp_path: Path) -> None:
    """`notify` naming an unconfigured channel is reported at that list item's line."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match: {}
        steps:
          - action: notify
            with:
              channels:
                - oncall
                - pager
        """,
        channels={"oncall"},
    )
    assert message == (
        "D/p.yaml:8: steps.0.with.channels.1: unknown channel 'pager'; configured: oncall"
    )


def test_channels_are_not_checked_when_none_are_given(tmp_path: Path) -> None:
    """Without a set of configured channels, any channel name loads."""
    write_yaml(
        tmp_path,
        "p.yaml",
        """
        name: shell
        match: {}
        steps:
          - action: notify
            with: {channels: [pager]}
        """,
    )
    assert load_dir(tmp_path).by_name("shell") is not None


def test_step_parameters_are_checked_at_load(tmp_path: Path) -> None:
    """A loaded playbook carries each step's parameters as its action's model read them."""
    write_yaml(
        tmp_path,
        "p.yaml",
        """
        name: shell
        match: {}
        steps:
          - action: docker:kill
            with: {signal: term}
        """,
    )
    loaded = load_dir(tmp_path).by_name("shell")
    assert loaded is not None
    assert loaded.params[0].model_dump() == {"signal": "SIGTERM"}


# YAML shape


def test_bad_yaml_syntax_names_its_line(tmp_path: Path) -> None:
    """A YAML syntax error names the file and the line where the parser stopped."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match:
          source: falco
         rules: [a]
        steps:
          - action: docker:pause
        """,
    )
    assert message.startswith("D/p.yaml:4: invalid YAML: ")


def test_playbook_that_is_not_a_mapping(tmp_path: Path) -> None:
    """A document that is a plain string is not a playbook."""
    message = error_for(tmp_path, "just some text\n")
    assert message == (
        "D/p.yaml:1: (playbook): a playbook must be a mapping with name, match and steps"
    )


def test_list_item_that_is_not_a_mapping_names_its_index(tmp_path: Path) -> None:
    """In a list of playbooks, an item that is not a mapping is named by its index and line."""
    message = error_for(
        tmp_path,
        """
        - name: first
          match: {}
          steps:
            - action: docker:pause
        - just some text
        """,
    )
    assert message == "D/p.yaml:5: 1: a playbook must be a mapping with name, match and steps"


def test_list_of_playbooks_errors_carry_the_index_path(tmp_path: Path) -> None:
    """An error inside the second playbook of a list starts its field path with `1.`."""
    message = error_for(
        tmp_path,
        """
        - name: first
          match: {}
          steps:
            - action: docker:pause
        - name: second
          match:
            sorce: falco
          steps:
            - action: docker:pause
        """,
    )
    assert message == "D/p.yaml:7: 1.match.sorce: unknown field (check its spelling)"


def test_list_of_playbooks_loads_each(tmp_path: Path) -> None:
    """A file holding a list of playbooks loads every one, in order, each with its own line."""
    write_yaml(
        tmp_path,
        "p.yaml",
        """
        - name: first
          match: {}
          steps: [{action: docker:pause}]
        - name: second
          match: {}
          steps: [{action: docker:pause}]
        """,
    )
    loaded = load_dir(tmp_path).playbooks
    assert [(p.name, p.line) for p in loaded] == [("first", 1), ("second", 4)]


def test_multi_document_file_loads_each_document(tmp_path: Path) -> None:
    """A file with `---` separators loads one playbook per document."""
    write_yaml(
        tmp_path,
        "p.yaml",
        """
        name: first
        match: {}
        steps: [{action: docker:pause}]
        ---
        name: second
        match: {}
        steps: [{action: docker:pause}]
        """,
    )
    loaded = load_dir(tmp_path).playbooks
    assert [(p.name, p.where) for p in loaded] == [
        ("first", f"{tmp_path}/p.yaml:1"),
        ("second", f"{tmp_path}/p.yaml:5"),
    ]


def test_multi_document_error_names_the_line_in_the_file(tmp_path: Path) -> None:
    """An error in the second document names its line in the whole file."""
    message = error_for(
        tmp_path,
        """
        name: first
        match: {}
        steps: [{action: docker:pause}]
        ---
        name: second
        match: {}
        steps:
          - action: docker:paws
        """,
    )
    assert message.startswith("D/p.yaml:8: steps.0.action: unknown action 'docker:paws'")


def test_empty_document_is_skipped(tmp_path: Path) -> None:
    """An empty document (a stray `---`) is not an error."""
    write_yaml(tmp_path, "p.yaml", "---\n" + GOOD.lstrip("\n") + "---\n")
    assert [p.name for p in load_dir(tmp_path).playbooks] == ["good"]


# names


def test_duplicate_names_across_files_name_both_places(tmp_path: Path) -> None:
    """The same name in two files is an error that names both files and lines."""
    write_yaml(tmp_path, "a.yaml", GOOD)
    write_yaml(tmp_path, "b.yaml", "# a comment\n" + GOOD.lstrip("\n"))
    message = load_error([tmp_path]).replace(str(tmp_path), "D")
    assert message == "D/b.yaml:2: name: 'good' is already used at D/a.yaml:1"


def test_bad_playbook_name_is_refused(tmp_path: Path) -> None:
    """A name with spaces or capitals is refused at its line."""
    message = error_for(
        tmp_path,
        """
        match: {}
        name: Contain Shell
        steps: [{action: docker:pause}]
        """,
    )
    assert message.startswith("D/p.yaml:2: name: ")


def test_missing_steps_is_reported(tmp_path: Path) -> None:
    """A playbook without steps names the missing field."""
    message = error_for(tmp_path, "name: shell\nmatch: {}\n")
    assert message == "D/p.yaml:1: steps: Field required"


# templates, regexes, durations


def test_bad_template_syntax_in_a_parameter(tmp_path: Path) -> None:
    """A template syntax error in a step parameter is reported at that parameter's line."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match: {}
        steps:
          - action: notify
            with:
              channels: [oncall]
              message: "{{ event.name "
        """,
    )
    assert message.startswith("D/p.yaml:7: steps.0.with.message: template syntax error: ")


def test_template_with_unknown_variable(tmp_path: Path) -> None:
    """A template naming a variable outside the context is reported, with the known names."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match: {}
        steps:
          - action: notify
            with:
              channels: [oncall]
              message: "{{ secrets.token }}"
        """,
    )
    assert message == (
        "D/p.yaml:7: steps.0.with.message: template refers to unknown secrets; "
        "known: container, event, incident, playbook, target"
    )


def test_template_in_a_list_parameter_names_the_item(tmp_path: Path) -> None:
    """A bad template inside a list parameter is reported at that item's line."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match: {}
        steps:
          - action: docker:isolate
            with:
              networks:
                - frontend
                - "{{ network }}"
        """,
    )
    assert message.startswith("D/p.yaml:8: steps.0.with.networks.1: template refers to unknown")


def test_invalid_regex_in_a_field_condition(tmp_path: Path) -> None:
    """An invalid regex in a field condition is reported at its line with the field's key."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match:
          fields:
            proc.name:
              regex: "([a-z"
        steps:
          - action: docker:pause
        """,
    )
    assert message.startswith("D/p.yaml:5: match.fields.proc.name.regex: ")
    assert "invalid regular expression" in message


def test_empty_condition_is_reported(tmp_path: Path) -> None:
    """An empty condition mapping is reported at its key."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match:
          labels:
            severity: {}
        steps:
          - action: docker:pause
        """,
    )
    assert message.startswith("D/p.yaml:4: match.labels.severity: ")
    assert "at least one operator" in message


def test_bad_priority_is_reported(tmp_path: Path) -> None:
    """An unknown priority level is reported at its line, listing the levels."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match:
          priority: ">=Bogus"
        steps:
          - action: docker:pause
        """,
    )
    assert message.startswith("D/p.yaml:3: match.priority: ")
    assert "unknown priority 'Bogus'" in message


def test_bad_duration_is_reported(tmp_path: Path) -> None:
    """`cooldown: 10 minutes` is not a duration; the message shows how to write one."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match: {}
        cooldown: 10 minutes
        steps:
          - action: docker:pause
        """,
    )
    assert message.startswith("D/p.yaml:3: cooldown: ")
    assert "not a duration: '10 minutes'" in message
    assert "10m" in message


# all problems together


def test_every_problem_of_a_run_is_reported_together(tmp_path: Path) -> None:
    """Two bad files give one ConfigError that lists both problems, each with its file:line."""
    write_yaml(
        tmp_path,
        "a.yaml",
        "name: one\nmatch:\n  priorty: Notice\nsteps: [{action: docker:pause}]\n",
    )
    write_yaml(tmp_path, "b.yaml", "name: two\nmatch: {}\nsteps:\n  - action: docker:nope\n")
    lines = load_error([tmp_path]).replace(str(tmp_path), "D").splitlines()
    assert len(lines) == 2
    assert lines[0] == "D/a.yaml:3: match.priorty: unknown field (check its spelling)"
    assert lines[1].startswith("D/b.yaml:4: steps.0.action: unknown action 'docker:nope'")


def test_yaml_error_does_not_hide_other_files(tmp_path: Path) -> None:
    """A file with broken YAML is reported alongside the other files' problems."""
    write_yaml(tmp_path, "a.yaml", "name: one\nmatch: [\n")
    write_yaml(
        tmp_path, "b.yaml", "name: two\nmatch: {}\ncolour: red\nsteps: [{action: docker:pause}]\n"
    )
    message = load_error([tmp_path]).replace(str(tmp_path), "D")
    assert "D/a.yaml:" in message
    assert "invalid YAML" in message
    assert "D/b.yaml:3: colour: unknown field" in message


def test_every_problem_in_one_playbook_is_reported(tmp_path: Path) -> None:
    """Several schema problems in one playbook are all reported, each at its own line."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match:
          priorty: Notice
          fields:
            proc.name: {regex: "("}
        cooldown: soon
        steps:
          - action: docker:pause
        """,
    )
    lines = message.splitlines()
    assert len(lines) == 3
    assert any(line.startswith("D/p.yaml:3: match.priorty: ") for line in lines)
    assert any(line.startswith("D/p.yaml:5: match.fields.proc.name.regex: ") for line in lines)
    assert any(line.startswith("D/p.yaml:6: cooldown: ") for line in lines)


def test_every_bad_step_is_reported(tmp_path: Path) -> None:
    """Each bad step of one playbook is reported, not only the first."""
    message = error_for(
        tmp_path,
        """
        name: shell
        match: {}
        steps:
          - action: docker:nope
          - action: docker:stop
            with: {timeout: -1}
        """,
    )
    lines = message.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("D/p.yaml:4: steps.0.action: ")
    assert lines[1].startswith("D/p.yaml:6: steps.1.with.timeout: ")


# files


def test_test_files_are_not_loaded_as_playbooks(tmp_path: Path) -> None:
    """`*.test.yaml` and `*.test.yml` files are playbook tests, not playbooks."""
    write_yaml(tmp_path, "good.yaml", GOOD)
    write_yaml(tmp_path, "good.test.yaml", "event: {}\nexpect: [good]\n")
    write_yaml(tmp_path, "other.test.yml", "event: {}\nexpect: [good]\n")
    loaded = load_dir(tmp_path)
    assert [p.name for p in loaded.playbooks] == ["good"]
    assert loaded.files == (str(tmp_path / "good.yaml"),)


def test_non_yaml_files_are_ignored(tmp_path: Path) -> None:
    """Files that are not `.yaml` or `.yml` (a README) are ignored."""
    write_yaml(tmp_path, "README.md", "# playbooks\n")
    write_yaml(tmp_path, "good.yml", GOOD)
    assert [p.name for p in load_dir(tmp_path).playbooks] == ["good"]


def test_subdirectories_are_searched(tmp_path: Path) -> None:
    """Playbooks in subdirectories are loaded."""
    (tmp_path / "falco").mkdir()
    write_yaml(tmp_path / "falco", "good.yaml", GOOD)
    assert [p.name for p in load_dir(tmp_path).playbooks] == ["good"]


def test_missing_explicit_path_is_an_error(tmp_path: Path) -> None:
    """A path given explicitly that does not exist is a ConfigError naming it."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such file or directory"):
        load_playbooks([missing], registry())


def test_explicit_file_path_is_loaded(tmp_path: Path) -> None:
    """A file given explicitly is loaded even beside others that are not."""
    path = write_yaml(tmp_path, "good.yaml", GOOD)
    write_yaml(tmp_path, "broken.yaml", "name: [\n")
    assert [p.name for p in load_playbooks([path], registry()).playbooks] == ["good"]


def test_playbook_files_lists_sorted_yaml_without_tests(tmp_path: Path) -> None:
    """`playbook_files` lists YAML files in sorted order, test files left out."""
    for name in ("b.yml", "a.yaml", "a.test.yaml", "c.txt"):
        write_yaml(tmp_path, name, "")
    assert [p.name for p in playbook_files([tmp_path])] == ["a.yaml", "b.yml"]


def test_empty_directory_loads_nothing(tmp_path: Path) -> None:
    """A directory with no playbooks loads an empty set, not an error."""
    assert load_dir(tmp_path).playbooks == ()


# digest


def digest_of(tmp_path: Path, text: str) -> str:
    """The digest of the one playbook in `text`."""
    write_yaml(tmp_path, "p.yaml", text)
    (loaded,) = load_dir(tmp_path).playbooks
    return loaded.digest


def test_digest_is_sha256_hex(tmp_path: Path) -> None:
    """The digest is a sha256 in hex."""
    digest = digest_of(tmp_path, GOOD)
    assert len(digest) == 64
    assert int(digest, 16) >= 0


def test_digest_changes_when_playbook_text_changes(tmp_path: Path) -> None:
    """Changing a value in the playbook changes its digest."""
    before = digest_of(tmp_path, GOOD)
    after = digest_of(tmp_path, GOOD.replace("docker:pause", "docker:stop"))
    assert before != after


def test_digest_ignores_key_order_whitespace_and_comments(tmp_path: Path) -> None:
    """Reordering keys, flow style, comments and blank lines leave the digest alone."""
    before = digest_of(tmp_path, GOOD)
    after = digest_of(
        tmp_path,
        """
        # the same playbook, written differently
        steps: [ {action: "docker:pause"} ]

        match: { source: falco }
        name:   good
        """,
    )
    assert before == after


def test_digest_is_per_playbook(tmp_path: Path) -> None:
    """Two playbooks in one file have different digests."""
    write_yaml(tmp_path, "p.yaml", GOOD + "---\n" + GOOD.replace("good", "other"))
    first, second = load_dir(tmp_path).playbooks
    assert first.digest != second.digest
