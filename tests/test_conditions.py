"""Conditions on one value, tags and priorities: every operator, shorthand and edge."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from responder.journal import Priority
from responder.playbooks import Condition, PriorityCondition, TagsCondition


def cond(spec: Any) -> Condition:
    """A condition read from its YAML value."""
    return Condition.model_validate(spec)


def holds(spec: Any, value: Any) -> bool:
    """Whether a present value satisfies the condition written as `spec`."""
    return cond(spec).test(value) is None


def holds_missing(spec: Any) -> bool:
    """Whether a missing value satisfies the condition written as `spec`."""
    return cond(spec).test(None, present=False) is None


# equals


def test_equals_same_string_holds() -> None:
    """`equals` holds for the same string."""
    assert holds({"equals": "bash"}, "bash")


def test_equals_other_string_fails_with_reason() -> None:
    """`equals` fails for another string and says what it got and wanted."""
    reason = cond({"equals": "bash"}).test("sh")
    assert reason is not None
    assert "'sh'" in reason
    assert "'bash'" in reason


def test_equals_is_case_sensitive() -> None:
    """`equals` compares text exactly, case included."""
    assert not holds({"equals": "bash"}, "BASH")


def test_equals_numeric_string_matches_number() -> None:
    """`equals: "0"` holds for the number 0 (YAML and JSON disagree on quoting)."""
    assert holds({"equals": "0"}, 0)


def test_equals_number_matches_numeric_string() -> None:
    """`equals: 0` holds for the string "0" (labels are always strings)."""
    assert holds({"equals": 0}, "0")


def test_equals_int_matches_float() -> None:
    """`equals: 1` holds for 1.0."""
    assert holds({"equals": 1}, 1.0)


def test_equals_number_does_not_match_other_number() -> None:
    """`equals: 0` fails for 1000."""
    assert not holds({"equals": 0}, 1000)


def test_equals_true_matches_boolean_true() -> None:
    """`equals: true` holds for a JSON true."""
    assert holds({"equals": True}, True)  # noqa: FBT003 - the value under test


def test_equals_true_matches_text_true() -> None:
    """`equals: true` holds for the label text "true"."""
    assert holds({"equals": True}, "true")


def test_equals_text_true_matches_boolean_true() -> None:
    """`equals: "true"` holds for a JSON true."""
    assert holds({"equals": "true"}, True)  # noqa: FBT003 - the value under test


def test_equals_true_does_not_match_one() -> None:
    """A boolean is not a number: `equals: true` fails for 1."""
    assert not holds({"equals": True}, 1)


def test_equals_false_does_not_match_zero() -> None:
    """A boolean is not a number: `equals: 0` fails for false."""
    assert not holds({"equals": 0}, False)  # noqa: FBT003 - the value under test


def test_equals_false_does_not_match_true() -> None:
    """`equals: false` fails for true."""
    assert not holds({"equals": False}, True)  # noqa: FBT003 - the value under test


# not_equals


def test_not_equals_other_value_holds() -> None:
    """`not_equals` holds for a different value."""
    assert holds({"not_equals": "root"}, "www-data")


def test_not_equals_same_value_fails() -> None:
    """`not_equals` fails for the value it names."""
    assert not holds({"not_equals": "root"}, "root")


def test_not_equals_uses_number_leniency() -> None:
    """`not_equals: 0` fails for the string "0": the same leniency as `equals`."""
    assert not holds({"not_equals": 0}, "0")


# in / not_in


def test_in_holds_for_a_listed_value() -> None:
    """`in` holds when the value is one of the list."""
    assert holds({"in": ["bash", "sh", "zsh"]}, "sh")


def test_in_fails_for_an_unlisted_value() -> None:
    """`in` fails when the value is none of the list, and says so."""
    reason = cond({"in": ["bash", "sh"]}).test("python")
    assert reason is not None
    assert "is not in" in reason


def test_in_uses_number_leniency() -> None:
    """`in: [0, 1]` holds for the string "1"."""
    assert holds({"in": [0, 1]}, "1")


def test_not_in_holds_for_an_unlisted_value() -> None:
    """`not_in` holds when the value is none of the list."""
    assert holds({"not_in": ["falcosecurity/falco"]}, "nginx")


def test_not_in_fails_for_a_listed_value() -> None:
    """`not_in` fails when the value is one of the list, and says so."""
    reason = cond({"not_in": ["falcosecurity/falco"]}).test("falcosecurity/falco")
    assert reason is not None
    assert "is in" in reason


# glob


def test_glob_string_matches() -> None:
    """A single `glob` pattern given as a string matches."""
    assert holds({"glob": "/etc/*"}, "/etc/shadow")


def test_glob_string_does_not_match() -> None:
    """A single `glob` pattern fails for a value outside it."""
    assert not holds({"glob": "/etc/*"}, "/var/log/syslog")


def test_glob_list_matches_any_pattern() -> None:
    """A list of globs holds when any pattern matches."""
    assert holds({"glob": ["/etc/*", "/root/*"]}, "/root/.ssh")


def test_glob_list_fails_when_no_pattern_matches() -> None:
    """A list of globs fails when no pattern matches, and names the patterns."""
    reason = cond({"glob": ["/etc/*", "/root/*"]}).test("/var/x")
    assert reason is not None
    assert "matches none of" in reason


def test_glob_is_case_sensitive() -> None:
    """Globs compare case as written."""
    assert not holds({"glob": "nginx*"}, "NGINX:1.25")


def test_glob_matches_number_as_text() -> None:
    """A number is globbed as its text."""
    assert holds({"glob": "80*"}, 8000)


def test_glob_string_is_stored_as_list() -> None:
    """A single glob string is kept as a one-item list."""
    assert cond({"glob": "a*"}).glob == ["a*"]


# regex


def test_regex_searches_anywhere() -> None:
    """`regex` has search semantics: it matches inside the value, not only at the start."""
    assert holds({"regex": "shadow"}, "/etc/shadow")


def test_regex_anchors_are_respected() -> None:
    """An anchored `regex` only matches where anchored."""
    assert not holds({"regex": "^shadow"}, "/etc/shadow")


def test_regex_no_match_fails_with_pattern() -> None:
    """A `regex` that does not match fails, and the reason shows the pattern."""
    reason = cond({"regex": "^/usr/"}).test("/var/x")
    assert reason is not None
    assert "^/usr/" in reason


def test_regex_matches_boolean_as_yaml_text() -> None:
    """A boolean is searched as `true`/`false`, as YAML writes it."""
    assert holds({"regex": "^true$"}, True)  # noqa: FBT003 - the value under test


def test_invalid_regex_is_rejected_at_validation() -> None:
    """An invalid regex fails validation and says it is an invalid regular expression."""
    with pytest.raises(ValidationError, match="invalid regular expression"):
        cond({"regex": "([a-z"})


# exists


def test_exists_true_holds_for_present_value() -> None:
    """`exists: true` holds for a present value."""
    assert holds({"exists": True}, "x")


def test_exists_true_holds_for_present_empty_string() -> None:
    """`exists: true` holds for a present empty string: empty is not missing."""
    assert holds({"exists": True}, "")


def test_exists_true_fails_for_missing_value() -> None:
    """`exists: true` fails for a missing value."""
    assert not holds_missing({"exists": True})


def test_exists_true_fails_for_null_value() -> None:
    """`exists: true` fails for a null value."""
    assert not holds({"exists": True}, None)


def test_exists_false_holds_for_missing_value() -> None:
    """`exists: false` holds for a missing value."""
    assert holds_missing({"exists": False})


def test_exists_false_holds_for_null_value() -> None:
    """`exists: false` holds for a null value."""
    assert holds({"exists": False}, None)


def test_exists_false_fails_for_present_value() -> None:
    """`exists: false` fails for a present value."""
    assert cond({"exists": False}).test("x") == "exists"


# numeric comparisons


@pytest.mark.parametrize(
    ("op", "bound", "value", "expected"),
    [
        ("gt", 5, 6, True),
        ("gt", 5, 5, False),
        ("gte", 5, 5, True),
        ("gte", 5, 4.9, False),
        ("lt", 5, 4, True),
        ("lt", 5, 5, False),
        ("lte", 5, 5, True),
        ("lte", 5, 5.1, False),
    ],
)
def test_numeric_comparison_on_numbers(op: str, bound: float, value: float, expected: bool) -> None:
    """gt/gte/lt/lte compare numbers, with the boundary on the right side."""
    assert holds({op: bound}, value) is expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [("gt", "1001", True), ("gte", "1000", True), ("lt", "999.5", True), ("lte", "1000.1", False)],
)
def test_numeric_comparison_reads_numeric_strings(op: str, value: str, expected: bool) -> None:
    """A numeric string (every label value is text) compares as its number."""
    assert holds({op: 1000}, value) is expected


def test_numeric_comparison_reads_negative_number() -> None:
    """A negative number compares as one."""
    assert holds({"lt": 0}, "-3")


@pytest.mark.parametrize("value", ["high", "", "nan", "inf", [1], {"a": 1}])
def test_numeric_comparison_fails_for_non_numbers(value: Any) -> None:
    """Text that is not a finite number, lists and mappings fail a numeric comparison."""
    reason = cond({"gt": 0}).test(value)
    assert reason is not None
    assert "is not a number" in reason


def test_numeric_comparison_fails_for_boolean() -> None:
    """A boolean is not a number, even though Python treats True as 1."""
    reason = cond({"gte": 1}).test(True)  # noqa: FBT003 - the value under test
    assert reason is not None
    assert "is not a number" in reason


def test_numeric_comparison_reason_names_bound() -> None:
    """A failed comparison says which operator and bound."""
    assert cond({"gt": 90}).test(50) == "50 is not gt 90"


# shorthands


def test_scalar_shorthand_means_equals() -> None:
    """A bare scalar is `equals`."""
    condition = cond("bash")
    assert condition.operators() == ["equals"]
    assert condition.equals == "bash"


def test_number_shorthand_means_equals() -> None:
    """A bare number is `equals`, with the number leniency."""
    assert holds(0, "0")


def test_list_shorthand_means_in() -> None:
    """A bare list is `in`."""
    condition = cond(["bash", "sh"])
    assert condition.operators() == ["in"]
    assert condition.test("sh") is None
    assert condition.test("zsh") is not None


# several operators


def test_several_operators_all_hold() -> None:
    """A value that meets every operator given holds."""
    assert holds({"glob": "/etc/*", "not_in": ["/etc/hosts"], "regex": "sh"}, "/etc/shadow")


def test_several_operators_one_fails() -> None:
    """One failing operator among several fails the condition."""
    assert not holds({"glob": "/etc/*", "not_in": ["/etc/hosts"]}, "/etc/hosts")


def test_numeric_range_with_two_operators() -> None:
    """`gte` with `lt` makes a range: inside holds, outside fails."""
    assert holds({"gte": 10, "lt": 20}, 15)
    assert not holds({"gte": 10, "lt": 20}, 20)


def test_operators_lists_in_with_yaml_spelling() -> None:
    """`operators()` names `in` as YAML spells it, not the Python field name."""
    assert set(cond({"in": [1], "exists": True}).operators()) == {"in", "exists"}


# missing and null values


@pytest.mark.parametrize(
    "spec",
    [
        {"equals": "x"},
        {"in": ["x"]},
        {"glob": "*"},
        {"regex": ".*"},
        {"gt": 0},
        {"gte": 0},
        {"lt": 0},
        {"lte": 0},
        {"exists": True},
    ],
)
def test_missing_value_fails_conditions_that_ask_for_something(spec: dict[str, Any]) -> None:
    """A missing value fails every operator that asks for something (even `glob: "*"`)."""
    assert not holds_missing(spec)


@pytest.mark.parametrize(
    "spec", [{"equals": "x"}, {"in": ["x"]}, {"glob": "*"}, {"regex": ".*"}, {"gt": 0}]
)
def test_null_value_fails_conditions_that_ask_for_something(spec: dict[str, Any]) -> None:
    """A null value counts as missing for operators that ask for something."""
    assert not holds(spec, None)


@pytest.mark.parametrize("spec", [{"exists": False}, {"not_equals": "x"}, {"not_in": ["x"]}])
def test_missing_value_holds_negative_conditions(spec: dict[str, Any]) -> None:
    """A missing value satisfies only `exists: false`, `not_equals` and `not_in`."""
    assert holds_missing(spec)


@pytest.mark.parametrize("spec", [{"exists": False}, {"not_equals": "x"}, {"not_in": ["x"]}])
def test_null_value_holds_negative_conditions(spec: dict[str, Any]) -> None:
    """A null value satisfies `exists: false`, `not_equals` and `not_in`."""
    assert holds(spec, None)


def test_missing_value_reason_says_missing() -> None:
    """The reason for a missing value says it is missing and which operator wanted it."""
    reason = cond({"equals": "x"}).test(None, present=False)
    assert reason is not None
    assert "is missing" in reason
    assert "equals" in reason


def test_negative_and_positive_on_missing_value_fails() -> None:
    """`not_in` with `glob` fails for a missing value: the glob asks for something."""
    assert not holds_missing({"not_in": ["x"], "glob": "*"})


# validation


def test_empty_mapping_is_rejected() -> None:
    """An empty mapping is not a condition: at least one operator is needed."""
    with pytest.raises(ValidationError, match="at least one operator"):
        cond({})


def test_unknown_operator_is_rejected() -> None:
    """A misspelt operator is an error, not ignored."""
    with pytest.raises(ValidationError, match="Extra inputs"):
        cond({"equal": "x"})


# tags


def test_tags_all_holds_when_every_tag_present() -> None:
    """`all` holds when the event has every tag named."""
    assert TagsCondition(all=["container", "shell"]).test(("shell", "container", "mitre")) is None


def test_tags_all_fails_and_names_missing_tag() -> None:
    """`all` fails when one tag is missing, and names it."""
    reason = TagsCondition(all=["container", "shell"]).test(("container",))
    assert reason is not None
    assert "shell" in reason


def test_tags_any_holds_when_one_tag_present() -> None:
    """`any` holds when the event has at least one tag named."""
    assert TagsCondition(any=["network", "shell"]).test(("shell",)) is None


def test_tags_any_fails_when_no_tag_present() -> None:
    """`any` fails when the event has none of the tags."""
    reason = TagsCondition(any=["network", "shell"]).test(("container",))
    assert reason is not None
    assert "none of" in reason


def test_tags_none_holds_when_no_tag_present() -> None:
    """`none` holds when the event has none of the tags named."""
    assert TagsCondition(none=["test"]).test(("container",)) is None


def test_tags_none_fails_and_names_present_tag() -> None:
    """`none` fails when the event has one of the tags, and names it."""
    reason = TagsCondition(none=["test", "benign"]).test(("container", "benign"))
    assert reason is not None
    assert "benign" in reason


def test_tags_all_any_none_together() -> None:
    """`all`, `any` and `none` must all hold together."""
    tags = TagsCondition(all=["container"], any=["shell", "process"], none=["benign"])
    assert tags.test(("container", "process")) is None
    assert tags.test(("container", "process", "benign")) is not None


def test_tags_list_shorthand_means_all() -> None:
    """A plain list of tags means `all`."""
    tags = TagsCondition.model_validate(["container", "shell"])
    assert tags.all == ["container", "shell"]
    assert tags.test(("container",)) is not None
    assert tags.test(("container", "shell")) is None


def test_tags_unknown_key_is_rejected() -> None:
    """A misspelt tags key is an error."""
    with pytest.raises(ValidationError):
        TagsCondition.model_validate({"alll": ["container"]})


# priority


@pytest.mark.parametrize(
    ("text", "op", "level"),
    [
        (">=Notice", ">=", Priority.NOTICE),
        ("<=Warning", "<=", Priority.WARNING),
        ("==Critical", "==", Priority.CRITICAL),
        ("!=Debug", "!=", Priority.DEBUG),
        (">Error", ">", Priority.ERROR),
        ("<Alert", "<", Priority.ALERT),
    ],
)
def test_priority_parse_reads_each_comparator(text: str, op: str, level: Priority) -> None:
    """Each comparator is read with its level."""
    parsed = PriorityCondition.parse(text)
    assert parsed.op == op
    assert parsed.level is level


def test_priority_parse_bare_level_means_equals() -> None:
    """A bare level means `==`."""
    parsed = PriorityCondition.parse("Critical")
    assert parsed.op == "=="
    assert parsed.level is Priority.CRITICAL


def test_priority_parse_allows_spaces_and_any_case() -> None:
    """Spaces around the comparator and any case of the level are accepted."""
    parsed = PriorityCondition.parse(" >= warning ")
    assert parsed.op == ">="
    assert parsed.level is Priority.WARNING


def test_priority_parse_reads_aliases() -> None:
    """Level aliases (`info`, `crit`) are read."""
    assert PriorityCondition.parse(">=crit").level is Priority.CRITICAL


@pytest.mark.parametrize("text", ["", ">=", "=>Notice", "~Notice", ">=Notice!", "3"])
def test_priority_parse_rejects_malformed_text(text: str) -> None:
    """Text that is not a comparator and a level is an error that shows an example."""
    with pytest.raises(ValueError, match="not a priority condition"):
        PriorityCondition.parse(text)


def test_priority_parse_rejects_unknown_level() -> None:
    """An unknown level is an error that lists the known levels."""
    with pytest.raises(ValueError, match=r"unknown priority 'Bogus'.*Notice"):
        PriorityCondition.parse(">=Bogus")


@pytest.mark.parametrize(
    ("text", "priority", "expected"),
    [
        (">=Notice", Priority.NOTICE, True),
        (">=Notice", Priority.INFORMATIONAL, False),
        (">Notice", Priority.NOTICE, False),
        ("<=Notice", Priority.DEBUG, True),
        ("<Notice", Priority.NOTICE, False),
        ("==Notice", Priority.NOTICE, True),
        ("!=Notice", Priority.NOTICE, False),
        ("!=Notice", Priority.EMERGENCY, True),
    ],
)
def test_priority_condition_compares_on_the_ordered_scale(
    text: str, priority: Priority, expected: bool
) -> None:
    """Comparators follow the ordered scale Debug < ... < Emergency."""
    assert (PriorityCondition.parse(text).test(priority) is None) is expected


def test_priority_condition_reason_names_both_levels() -> None:
    """A failing priority condition names the event's level and the condition."""
    assert (
        PriorityCondition.parse(">=Error").test(Priority.WARNING)
        == "priority Warning is not >=Error"
    )
