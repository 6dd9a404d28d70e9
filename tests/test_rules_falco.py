"""Structure of the shipped Falco rules (rules/falco/responder_rules.yaml), checked without Falco.

Falco is not packaged for Debian, so CI cannot load the file into Falco itself. These tests check
what can be checked from the YAML: the item kinds and their keys, priorities, unique and stable
names, outputs that let the responder find the container, and that every macro and list a
condition uses is defined in the file before it is used or is one of the default-ruleset names below.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

RULES_FILE = Path(__file__).resolve().parent.parent / "rules" / "falco" / "responder_rules.yaml"

# Macros and lists the file takes from Falco's default ruleset (falco_rules.yaml, stable maturity,
# Falco 0.37+), which must be loaded before it. What each one means there:
# - container: the event comes from a container, i.e. container.id is not "host";
# - spawned_process: a successful execve or execveat (exit event);
# - open_write: a successful open, openat or openat2 of a regular file for writing;
# - outbound: a connect, sendto or sendmsg to an IP address outside loopback and RFC 1918;
# - never_true: always false, the placeholder body of tuning macros.
DEFAULT_MACROS = frozenset({"container", "spawned_process", "open_write", "outbound", "never_true"})
# The file uses no default list; a name added here must be used and documented like the macros.
DEFAULT_LISTS: frozenset[str] = frozenset()

# Rules of the default ruleset that apply to containers; ours must not reuse (shadow) their names.
DEFAULT_RULE_NAMES = frozenset(
    {
        "Directory traversal monitored file read",
        "Read sensitive file trusted after startup",
        "Read sensitive file untrusted",
        "Run shell untrusted",
        "System user interactive",
        "Terminal shell in container",
        "Contact K8S API Server From Container",
        "Netcat Remote Code Execution in Container",
        "Search Private Keys or Passwords",
        "Clear Log Activities",
        "Remove Bulk Data from Disk",
        "Create Symlink Over Sensitive Files",
        "Create Hardlink Over Sensitive Files",
        "Packet socket created in container",
        "Redirect STDOUT/STDIN to Network Connection in Container",
        "Linux Kernel Module Injection Detected",
        "Debugfs Launched in Privileged Container",
        "Detect release_agent File Container Escapes",
        "PTRACE attached to process",
        "PTRACE anti-debug attempt",
        "Find AWS Credentials",
        "Execution from /dev/shm",
        "Drop and execute new binary in container",
        "Disallowed SSH Connection Non Standard Port",
        "Fileless execution via memfd_create",
    }
)

PRIORITIES = frozenset(
    {
        "EMERGENCY",
        "ALERT",
        "CRITICAL",
        "ERROR",
        "WARNING",
        "NOTICE",
        "INFORMATIONAL",
        "INFO",
        "DEBUG",
    }
)
RULE_REQUIRED_KEYS = frozenset({"rule", "desc", "condition", "output", "priority", "tags"})
RULE_OPTIONAL_KEYS = frozenset({"source", "enabled", "exceptions", "override", "warn_evttypes"})
OUTPUT_CONTAINER_FIELDS = (
    "container_id=%container.id",
    "container_name=%container.name",
    "image=%container.image.repository",
)
MITRE_TECHNIQUE = re.compile(r"^TA?\d{4}(\.\d{3})?$")

# Falco condition syntax, as far as the checks below need it.
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<punct>[(),])
  | (?P<cmp>!=|<=|>=|==|=|<|>)
  | (?P<word>[^\s(),=<>!"']+)
    """,
    re.VERBOSE,
)
_BOOLEAN = frozenset({"and", "or", "not"})
_LIST_OPERATORS = frozenset({"in", "intersects", "pmatch"})
_VALUE_OPERATORS = frozenset(
    {
        "contains",
        "icontains",
        "bcontains",
        "startswith",
        "bstartswith",
        "endswith",
        "glob",
        "iglob",
        "regex",
    }
)
_UNARY_OPERATORS = frozenset({"exists"})


def _tokens(condition: str) -> list[tuple[str, str]]:
    """Split a condition into (kind, text) tokens; fail on any character the reader does not know."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(condition):
        match = _TOKEN.match(condition, position)
        if match is None:
            message = f"cannot tokenize {condition[position:]!r}"
            raise ValueError(message)
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append((kind, match.group()))
        position = match.end()
    return tokens


def _references(condition: str) -> tuple[set[str], set[str]]:
    """The macro names and the list names a condition refers to.

    A bare word where an expression may start is a macro; a word with a dot is a field, followed
    by an operator and a value. The items of `in`, `intersects` and `pmatch` are lists, except for
    `evt.type`, whose items are syscall names.
    """
    tokens = _tokens(condition)
    macros: set[str] = set()
    lists: set[str] = set()
    index = 0
    while index < len(tokens):
        kind, text = tokens[index]
        index += 1
        if kind == "punct" or text in _BOOLEAN:
            continue
        if kind != "word":
            raise ValueError(f"unexpected {text!r} in {condition!r}")
        if "." not in text:
            macros.add(text)
            continue
        operator_kind, operator = tokens[index] if index < len(tokens) else ("", "")
        index += 1
        if operator in _UNARY_OPERATORS:
            continue
        if operator in _LIST_OPERATORS:
            if tokens[index] != ("punct", "("):
                raise ValueError(f"{text} {operator} needs a parenthesised list in {condition!r}")
            end = tokens.index(("punct", ")"), index)
            items = {item for kind_, item in tokens[index + 1 : end] if kind_ != "punct"}
            if text != "evt.type":
                lists |= items
            index = end + 1
            continue
        if operator in _VALUE_OPERATORS or operator_kind == "cmp":
            index += 1  # the value, whatever its token kind (evt.dir=< has a "<" value)
            continue
        raise ValueError(f"unknown operator {operator!r} after {text} in {condition!r}")
    return macros, lists


@cache
def _text() -> str:
    return RULES_FILE.read_text(encoding="utf-8")


@cache
def _items() -> tuple[dict[str, Any], ...]:
    loaded = yaml.safe_load(_text())
    assert isinstance(loaded, list), "a Falco rules file is a YAML sequence"
    assert all(isinstance(item, dict) for item in loaded)
    return tuple(loaded)


def _kind(item: dict[str, Any]) -> str:
    kinds = [key for key in ("list", "macro", "rule") if key in item]
    return kinds[0] if len(kinds) == 1 else "?"


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [item for item in _items() if _kind(item) == kind]


def _undefined(check: str) -> list[str]:
    """References (`check` is "macro" or "list") not defined earlier in the file nor allow-listed."""
    defined = set(DEFAULT_MACROS if check == "macro" else DEFAULT_LISTS)
    problems: list[str] = []
    for item in _items():
        kind = _kind(item)
        if "condition" in item:
            macros, lists = _references(str(item["condition"]))
            problems.extend(
                f"{kind} {item[kind]!r} uses {check} {name!r}"
                for name in sorted(macros if check == "macro" else lists)
                if name not in defined
            )
        if kind == check:
            defined.add(str(item[kind]))
    return problems


def test_file_has_no_tabs() -> None:
    """The rules file is indented with spaces only."""
    assert "\t" not in _text()


def test_every_item_is_a_list_macro_or_rule() -> None:
    """Each item has exactly one of the keys list, macro, rule."""
    assert [item for item in _items() if _kind(item) == "?"] == []


def test_lists_have_scalar_items() -> None:
    """Every list has `items`, a sequence of plain values, and no other key."""
    bad = [
        item
        for item in _of_kind("list")
        if set(item) != {"list", "items"}
        or not isinstance(item["items"], list)
        or not all(isinstance(value, str | int) for value in item["items"])
    ]
    assert bad == []


def test_macros_have_a_condition() -> None:
    """Every macro has a non-empty `condition` and no other key."""
    bad = [
        item
        for item in _of_kind("macro")
        if set(item) != {"macro", "condition"} or not str(item["condition"]).strip()
    ]
    assert bad == []


def test_rules_have_the_required_keys_only() -> None:
    """Every rule has desc, condition, output, priority and tags, and no unknown key."""
    bad = {
        item["rule"]: sorted(set(item) ^ RULE_REQUIRED_KEYS)
        for item in _of_kind("rule")
        if not RULE_REQUIRED_KEYS <= set(item) <= RULE_REQUIRED_KEYS | RULE_OPTIONAL_KEYS
    }
    assert bad == {}


def test_rules_have_text_in_desc_condition_and_output() -> None:
    """desc, condition and output are non-empty strings."""
    bad = [
        item["rule"]
        for item in _of_kind("rule")
        for key in ("desc", "condition", "output")
        if not isinstance(item[key], str) or not item[key].strip()
    ]
    assert bad == []


def test_rule_priorities_are_falco_priorities() -> None:
    """Every priority is one of Falco's levels."""
    bad = {
        item["rule"]: item["priority"]
        for item in _of_kind("rule")
        if str(item["priority"]).upper() not in PRIORITIES
    }
    assert bad == {}


def test_rule_sources_are_syscall() -> None:
    """Rules name `source: syscall`: they are all about system calls."""
    assert [item["rule"] for item in _of_kind("rule") if item.get("source") != "syscall"] == []


def test_names_are_unique() -> None:
    """No two items share a name, whatever their kinds."""
    names = [str(item[_kind(item)]) for item in _items()]
    assert sorted({name for name in names if names.count(name) > 1}) == []


def test_rule_names_differ_from_the_default_rules() -> None:
    """No rule reuses a default rule's name: playbooks must tell them apart."""
    assert {item["rule"] for item in _of_kind("rule")} & DEFAULT_RULE_NAMES == set()


def test_own_names_carry_the_responder_prefix() -> None:
    """Our lists and macros start with responder_, so they cannot collide with Falco's."""
    names = [str(item[_kind(item)]) for item in _of_kind("list") + _of_kind("macro")]
    assert [name for name in names if not name.startswith("responder_")] == []


def test_conditions_have_balanced_parentheses() -> None:
    """Every condition opens and closes its parentheses in order."""
    unbalanced = []
    for item in _items():
        if "condition" not in item:
            continue
        depth = 0
        for kind, text in _tokens(str(item["condition"])):
            if kind == "punct" and text in "()":
                depth += 1 if text == "(" else -1
                if depth < 0:
                    break
        if depth != 0:
            unbalanced.append(item[_kind(item)])
    assert unbalanced == []


def test_conditions_use_only_defined_macros() -> None:
    """Every macro in a condition is defined earlier in the file or allow-listed from the defaults."""
    assert _undefined("macro") == []


def test_conditions_use_only_defined_lists() -> None:
    """Every list after in/pmatch/intersects is defined earlier in the file or allow-listed."""
    assert _undefined("list") == []


def test_lists_nest_only_defined_lists() -> None:
    """An item of a list that names one of our lists names one defined before it."""
    defined: set[str] = set()
    bad = []
    for item in _of_kind("list"):
        bad += [
            f"{item['list']} -> {value}"
            for value in item["items"]
            if str(value).startswith("responder_") and value not in defined
        ]
        defined.add(item["list"])
    assert bad == []


def test_every_list_and_macro_is_used() -> None:
    """Each list and macro of the file is used by a condition or a list (Falco warns otherwise)."""
    used: set[str] = set()
    for item in _items():
        if "condition" in item:
            macros, lists = _references(str(item["condition"]))
            used |= macros | lists
        used |= {str(value) for value in item.get("items", [])}
    defined = [str(item[_kind(item)]) for item in _of_kind("list") + _of_kind("macro")]
    assert [name for name in defined if name not in used] == []


def test_default_names_are_used_and_documented() -> None:
    """Each allow-listed default macro or list is used, and named in the file's header comment."""
    used_macros: set[str] = set()
    used_lists: set[str] = set()
    for item in _items():
        if "condition" in item:
            macros, lists = _references(str(item["condition"]))
            used_macros |= macros
            used_lists |= lists
    header = _text().split("\n- ", 1)[0]
    assert used_macros >= DEFAULT_MACROS
    assert used_lists >= DEFAULT_LISTS
    assert [name for name in DEFAULT_MACROS | DEFAULT_LISTS if name not in header] == []


def test_outputs_name_the_container() -> None:
    """Each output carries container.id, container.name and the image, for target resolution."""
    bad = {
        item["rule"]: [field for field in OUTPUT_CONTAINER_FIELDS if field not in item["output"]]
        for item in _of_kind("rule")
        if not all(field in item["output"] for field in OUTPUT_CONTAINER_FIELDS)
    }
    assert bad == {}


def test_rule_tags_include_container_and_mitre() -> None:
    """Tags include `container`, a mitre_ tactic and a MITRE ATT&CK technique id."""
    bad = [
        item["rule"]
        for item in _of_kind("rule")
        if "container" not in item["tags"]
        or not any(str(tag).startswith("mitre_") for tag in item["tags"])
        or not any(MITRE_TECHNIQUE.match(str(tag)) for tag in item["tags"])
    ]
    assert bad == []


def test_each_rule_says_which_seed_threat_it_covers() -> None:
    """The comment block right above each `- rule:` names the seed guideline threat."""
    lines = _text().splitlines()
    missing = []
    for number, line in enumerate(lines):
        if not line.startswith("- rule:"):
            continue
        comment = []
        for previous in reversed(lines[:number]):
            if not previous.startswith("#"):
                break
            comment.append(previous)
        if "Seed threat:" not in "\n".join(comment):
            missing.append(line)
    assert missing == []


def test_release_agent_is_left_to_the_default_rule() -> None:
    """No condition looks for release_agent: the default ruleset already does."""
    assert [
        item[_kind(item)]
        for item in _items()
        if "release_agent" in str(item.get("condition", ""))
        or "release_agent" in str(item.get("items", ""))
    ] == []


def test_reference_finder_sees_macros_lists_and_values() -> None:
    """The condition reader tells macros, lists and literal values apart (so the checks bite)."""
    macros, lists = _references(
        "spawned_process and evt.dir=< and evt.type in (open, openat) "
        "and proc.name in (some_list) and fd.name pmatch (dirs) and not tuning_macro "
        'and container.label[a.b]=internal and fd.name contains "docker.sock" and fd.ip exists'
    )
    assert (macros, lists) == ({"spawned_process", "tuning_macro"}, {"some_list", "dirs"})
