"""Hostile playbook and configuration files: a ConfigError naming file:line, never another exception.

Arbitrary YAML documents, playbooks and configurations with a wrong type in every field, huge
numbers and impossible dates, nesting past any sane depth, alias bombs (billion laughs),
recursive aliases, bytes that are not UTF-8 and binary files all go through the real loaders.
A test named "refused" asserts the refusal; one where some inputs are fine says "loaded or
refused" or "never crashes" and asserts only that nothing but a ConfigError escapes.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from _builders import registry
from _hostile import (
    HOSTILE_PIECES,
    apply,
    hostile_settings,
    hostile_text,
    json_scalars,
    mutations,
    wrong_values,
)
from hypothesis import example, given
from hypothesis import strategies as st

from responder.errors import ConfigError
from responder.playbooks import PlaybookSet, load_playbooks
from responder.settings import MAX_DEPTH, MAX_NODES, Settings, load_settings

if TYPE_CHECKING:
    from pathlib import Path

SETTINGS = hostile_settings(200)
BOMB_SECONDS = 2.0
"""Ample for any file below the loader's limits; an alias bomb it expands takes far longer."""


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of its own for the module; each example rewrites the one file in it."""
    return tmp_path_factory.mktemp("hostile-loaders")


def write(directory: Path, content: str | bytes, name: str = "p.yaml") -> Path:
    """Put `content` in `directory/name`, replacing what an earlier example left there."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8"))
    else:
        path.write_bytes(content)
    return path


def located(message: str, path: Path) -> None:
    """Every line of the message starts with `file:line:` (a heading line ending in `:` aside)."""
    lines = message.splitlines()
    assert lines, "an empty error message"
    where = re.compile(re.escape(str(path)) + r":\d+: \S")
    for line in lines:
        if line.endswith(":") and not line.startswith(" "):
            continue  # "invalid configuration:" heads the list of problems
        assert where.match(line.strip()), f"not file:line: {line[:300]!r}"


def load_playbook_file(directory: Path, content: str | bytes) -> PlaybookSet | None:
    """Load the one file as a playbook; None when it is refused with a ConfigError at file:line."""
    path = write(directory, content, "playbooks/p.yaml")
    try:
        return load_playbooks([path.parent], registry(), channels={"oncall"})
    except ConfigError as exc:
        located(str(exc), path)
        return None


def load_config_file(directory: Path, content: str | bytes) -> Settings | None:
    """Load the one file as the configuration; None when refused with a ConfigError at file:line."""
    path = write(directory, content, "config/responder.yaml")
    try:
        return load_settings(path, environ={})
    except ConfigError as exc:
        located(str(exc), path)
        return None


def playbook_refusal(directory: Path, content: str | bytes) -> str:
    """The ConfigError message (every line at file:line) that refuses this playbook file."""
    path = write(directory, content, "playbooks/p.yaml")
    with pytest.raises(ConfigError) as refused:
        load_playbooks([path.parent], registry(), channels={"oncall"})
    located(str(refused.value), path)
    return str(refused.value)


def config_refusal(directory: Path, content: str | bytes) -> str:
    """The ConfigError message (every line at file:line) that refuses this configuration."""
    path = write(directory, content, "config/responder.yaml")
    with pytest.raises(ConfigError) as refused:
        load_settings(path, environ={})
    located(str(refused.value), path)
    return str(refused.value)


TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"
TOO_MANY = f"more than {MAX_NODES} values once aliases are expanded"


def dump(value: Any) -> str:
    """YAML as a person might write it (block style), any Unicode kept as it is."""
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, default_flow_style=False)


# YAML values: everything PyYAML reads, and text that is more than it seems.

_YAML_SCALARS = st.one_of(
    json_scalars(text=hostile_text(max_pieces=3, long_runs=False)),
    st.dates(),
    st.datetimes(),
)
yaml_values = st.recursive(
    _YAML_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.text(max_size=8), st.integers(), st.booleans()), children, max_size=4
        ),
    ),
    max_leaves=12,
)

_RAW_PIECES = (
    "name: x\n",
    "match: {}\n",
    "steps:\n",
    "  - action: notify\n",
    "    with: {channels: [oncall]}\n",
    "- ",
    "  ",
    "\t",
    ": ",
    "? ",
    "&a ",
    "*a ",
    "*b",
    "<<: *a\n",
    "!!python/object/apply:os.system ['true']",
    "!!binary |\n  AAAA\n",
    "!!str ",
    "!!int 'x'",
    "!!float ",
    "!!bool maybe",
    "!!timestamp nope",
    "!!timestamp 2024-13-45",
    "!custom ",
    "%YAML 1.1\n",
    "%TAG ! tag:x,2024:\n",
    "---\n",
    "...\n",
    "{",
    "}",
    "[",
    "]",
    ",",
    "|\n",
    ">-\n",
    "'",
    '"',
    '"\\x1b\\u202e\\0"',
    "#",
    "2024-13-45",
    "2001-12-14t21:59:43.10-25:00",
    "1" * 5_000,
    "0x" + "f" * 400,
    "0o7777777",
    "1_000",
    "1e400",
    ".nan",
    "-.inf",
    "~",
    "yes",
    "off",
    "\n",
    "\r\n",
    "\r",
    "\x85",
    "\u2028",
    "\ufeff",
    "\x00",
    "\x1b",
)


@st.composite
def raw_yaml(draw: st.DrawFn) -> str:
    """Text made of YAML syntax, tags, anchors and odd scalars in any order."""
    pieces = st.one_of(
        st.sampled_from(_RAW_PIECES),
        st.sampled_from(HOSTILE_PIECES),
        st.text(alphabet="abc:-[]{}&*!|>'\"# \n", max_size=12),
    )
    return "".join(draw(st.lists(pieces, max_size=20)))


def _playbook() -> dict[str, Any]:
    return {
        "name": "contain-shell",
        "description": "A shell in a container.",
        "order": 10,
        "cooldown": "10m",
        "match": {
            "source": "falco",
            "rules": ["Terminal shell in container"],
            "priority": ">=Notice",
            "tags": {"any": ["container"]},
            "fields": {"container.image.repository": {"not_in": ["falcosecurity/falco"]}},
            "labels": {"severity": {"in": ["critical"]}},
        },
        "steps": [
            {"action": "docker:snapshot", "with": {"export": True}},
            {"action": "notify", "with": {"channels": ["oncall"], "message": "{{ event.rule }}"}},
        ],
    }


_PLAYBOOK_KEYS = (*_playbook(), "enabled", "final", "dry_run", "unknown")
_MATCH_KEYS = (
    "source", "rules", "alertnames", "priority", "status", "tags", "hostname", "output",
    "fields", "labels", "annotations", "container",
)  # fmt: skip
_STEP_KEYS = ("action", "with", "name", "timeout", "retries", "continue_on_error")
_HUGE_TEXT = st.sampled_from(
    ["1" * 400, "1" * 5_000, "-" + "9" * 5_000, "1e400", "2024-13-45", "2024-02-30 25:61:00"]
)
_TEMPLATES = st.one_of(
    st.sampled_from(HOSTILE_PIECES),
    st.integers(50, 3_000).map(lambda n: "{{ " + "(" * n + "1" + ")" * n + " }}"),
    st.integers(50, 3_000).map(lambda n: "{% if 1 %}" * n + "x" + "{% endif %}" * n),
    st.integers(50, 3_000).map(lambda n: "{{ " + "[" * n + "]" * n + " }}"),
    st.sampled_from(["{{ event.", "{% for %}", "{{ unknown_name }}", "{{ event.__class__ }}"]),
)
"""Step parameters and channel templates: syntax errors and expressions nested thousands deep."""
DEEP = "{{ " + "(" * 1_000 + "1" + ")" * 1_000 + " }}"
"""A template expression deeper than Jinja's recursive parser can follow."""


@st.composite
def playbooks(draw: st.DrawFn) -> str:
    """A valid playbook, then its top, its `match` and its steps given wrong values or removed."""
    playbook = _playbook()
    special = {"order": _HUGE_TEXT.map(int_or_text), "cooldown": _HUGE_TEXT.map(int_or_text)}
    match = apply(playbook["match"], draw(mutations(_MATCH_KEYS)))
    steps = []
    for step in playbook["steps"]:
        with_ = dict(step["with"])
        if draw(st.booleans()):
            with_[draw(st.sampled_from(["message", "channels", "export", "extra"]))] = draw(
                st.one_of(_TEMPLATES, wrong_values())
            )
        changed = {**step, "with": with_}
        steps.append(apply(changed, draw(mutations(_STEP_KEYS, {"timeout": _HUGE_TEXT}))))
    playbook = {**playbook, "match": match, "steps": steps}
    playbook = apply(playbook, draw(mutations(_PLAYBOOK_KEYS, special)))
    return dump(playbook)


def int_or_text(text: str) -> int | str:
    """The text as an integer when Python can hold it, else the text itself."""
    try:
        return int(text)
    except ValueError:
        return text


# Playbooks.


@SETTINGS
@given(value=yaml_values)
@example(value={"\x85": None})  # regression: the key's NEL split the message line in two
def test_any_yaml_document_as_a_playbook_is_loaded_or_refused_at_file_line(
    directory: Path, value: Any
) -> None:
    """Any YAML document: a playbook set, or a ConfigError whose every line names file:line."""
    load_playbook_file(directory, dump(value))


@SETTINGS
@given(text=raw_yaml())
@example(text="\x00")  # regression: PyYAML's reader error had no line
def test_raw_yaml_syntax_as_a_playbook_is_loaded_or_refused_at_file_line(
    directory: Path, text: str
) -> None:
    """YAML syntax in any order (tags, anchors, directives, controls): loaded or file:line."""
    load_playbook_file(directory, text)


@SETTINGS
@given(text=playbooks())
# Regression: RecursionError from Jinja parsing a step parameter nested a thousand deep.
@example(text="name: t\nmatch: {}\nsteps: [{action: notify, with: {message: '" + DEEP + "'}}]\n")
def test_playbooks_with_wrong_values_never_crash_the_loader(directory: Path, text: str) -> None:
    """A wrong type, huge number, impossible date or deep template anywhere: loaded or file:line.

    Some drawn changes are harmless (a removed `description`, a `message` that is text after
    all): those load. The refusals that must happen are pinned in the tests below.
    """
    load_playbook_file(directory, text)


ORDER, COOLDOWN, TIMEOUT, RETRIES, COMPARISON, LABEL = (
    "name: huge\nmatch: {{}}\norder: {}\nsteps: [{{action: docker:pause}}]\n",
    "name: huge\nmatch: {{}}\ncooldown: {}\nsteps: [{{action: docker:pause}}]\n",
    "name: huge\nmatch: {{}}\nsteps: [{{action: docker:stop, with: {{timeout: {}}}}}]\n",
    "name: huge\nmatch: {{}}\nsteps: [{{action: docker:pause, retries: {}}}]\n",
    "name: huge\nmatch: {{fields: {{x: {{gt: {}}}}}}}\nsteps: [{{action: docker:pause}}]\n",
    "name: huge\nmatch: {{labels: {{{}: x}}}}\nsteps: [{{action: docker:pause}}]\n",
)
_IMPOSSIBLE = st.sampled_from(
    [
        "1" * 5_000,
        "-" + "9" * 5_000,
        "1e400",
        "-1e400",
        "2024-13-45",
        "2024-02-30 25:61:00",
        "2001-12-14t21:59:43.10-25:00",
    ]
)
"""Numbers past what Python parses from text, and dates no calendar has."""
_HUGE = _IMPOSSIBLE | st.sampled_from(["1" * 400, "0x" + "f" * 300])


@SETTINGS
@given(
    case=st.tuples(st.sampled_from([COOLDOWN, TIMEOUT, RETRIES]), _HUGE)
    | st.tuples(st.just(ORDER), _IMPOSSIBLE)
)
# Regressions: OverflowError, ValueError (month; digits) and ValueError (offset) escaped.
@example(case=(COOLDOWN, "1" * 400))
@example(case=(ORDER, "2024-13-45"))
@example(case=(ORDER, "1" * 5_000))
@example(case=(ORDER, "2001-12-14t21:59:43.10-25:00"))
def test_huge_numbers_and_impossible_dates_are_refused_at_file_line(
    directory: Path, case: tuple[str, str]
) -> None:
    """`cooldown: 1e400`, a 400-digit timeout or retry count, `order: 2024-13-45`: refused."""
    place, scalar = case
    playbook_refusal(directory, place.format(scalar))


@SETTINGS
@given(place=st.sampled_from([ORDER, COMPARISON, LABEL]), scalar=_HUGE)
def test_huge_numbers_where_any_number_or_text_fits_never_crash_the_loader(
    directory: Path, place: str, scalar: str
) -> None:
    """An order, a comparison value, a label name: `1e400` is text there, a 400-digit order an int.

    Loaded or refused at file:line, whichever the field allows, never another exception.
    """
    load_playbook_file(directory, place.format(scalar))


@pytest.mark.parametrize(
    "value",
    [
        "!!float ''",
        "!!int",
        "!!int 'x'",
        "!!bool maybe",
        "!!timestamp nope",
        "!!timestamp 2024-13-45",
        "2001-12-14t21:59:43.10-25:00",
        "1" * 5_000,
    ],
)
def test_tagged_scalars_pyyaml_cannot_build_are_refused_at_file_line(
    directory: Path, value: str
) -> None:
    """Regression: these made PyYAML raise IndexError, KeyError, AttributeError or ValueError."""
    text = f"name: tags\nmatch: {{}}\nsteps:\n  - action: notify\n    with: {{message: {value}}}\n"
    assert load_playbook_file(directory, text) is None
    assert load_config_file(directory, f"server:\n  host: {value}\n") is None


def nested_yaml(depth: int, style: str) -> str:
    """A value nested `depth` levels in flow or block style, under a playbook's `with`."""
    if style == "flow-list":
        inner = "[" * depth + "]" * depth
    elif style == "flow-map":
        inner = "{a: " * depth + "1" + "}" * depth
    else:
        depth = min(depth, 400)  # indentation grows with depth: 400 levels are 160 kB already
        lines = [f"{'  ' * level}a:" for level in range(depth)]
        return (
            "name: deep\nmatch: {}\nsteps:\n  - action: notify\n    with:\n      message:\n"
            + textwrap.indent("\n".join(lines) + " 1\n", " " * 8)
        )
    return f"name: deep\nmatch: {{}}\nsteps: [{{action: notify, with: {{message: {inner}}}}}]\n"


@hostile_settings(60)
@given(
    depth=st.one_of(st.integers(1, 60), st.integers(200, 20_000)),
    style=st.sampled_from(["flow-list", "flow-map", "block"]),
)
@example(depth=995, style="flow-list")  # regression: RecursionError in PyYAML's composer
def test_deep_nesting_is_refused_at_file_line_not_a_recursion_error(
    directory: Path, depth: int, style: str
) -> None:
    """Nesting thousands of levels deep is a ConfigError at file:line, never a RecursionError.

    Shallow nesting is refused too (a message is text, not a list or mapping); past the depth
    limit, the message says so.
    """
    message = playbook_refusal(directory, nested_yaml(depth, style))
    if depth > MAX_DEPTH:
        assert TOO_DEEP in message


def alias_bomb(levels: int, fanout: int) -> str:
    """Billion laughs: each anchor a list of `fanout` aliases to the one before."""
    lines = ["name: laughs", "match: {}", "bomb:", f"  - &a0 [{', '.join(['lol'] * fanout)}]"]
    lines.extend(
        f"  - &a{level} [{', '.join([f'*a{level - 1}'] * fanout)}]"
        for level in range(1, levels + 1)
    )
    lines.append("steps:")
    lines.append(f"  - {{action: notify, with: {{channels: [oncall], message: *a{levels}}}}}")
    return "\n".join(lines) + "\n"


@hostile_settings(25)
@given(levels=st.integers(1, 8), fanout=st.integers(2, 10))
@example(levels=8, fanout=6)  # regression: 6**9 laughs took about 20 s
def test_alias_bombs_are_refused_quickly(directory: Path, levels: int, fanout: int) -> None:
    """An alias bomb is refused at file:line in well under a second or two, however it expands."""
    started = time.perf_counter()
    message = playbook_refusal(directory, alias_bomb(levels, fanout))
    assert time.perf_counter() - started < BOMB_SECONDS
    if fanout ** (levels + 1) > MAX_NODES:  # its leaves alone are past the limit
        assert TOO_MANY in message


def test_billion_laughs_neither_hangs_nor_eats_memory(tmp_path: Path) -> None:
    """10^9 laughs, loaded in a child limited to 1 GiB and 60 s: refused, with file:line."""
    path = write(tmp_path, alias_bomb(9, 10))
    script = textwrap.dedent(
        f"""
        import resource, sys
        from pathlib import Path
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from responder.actions import ActionRegistry, default_actions
        from responder.errors import ConfigError
        from responder.playbooks import load_playbooks
        try:
            load_playbooks([Path({str(path)!r})], ActionRegistry(default_actions()))
        except ConfigError as exc:
            print(exc)
            sys.exit(0)
        sys.exit("loaded")
        """
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    located(done.stdout.strip(), path)
    assert time.perf_counter() - started < 30


def test_a_recursive_alias_is_refused_at_file_line(directory: Path) -> None:
    """`&a [*a]` is a list holding itself: refused, not walked forever."""
    text = "name: loop\nmatch: {}\nsteps:\n  - action: notify\n    with: {message: &a [*a]}\n"
    assert load_playbook_file(directory, text) is None
    config = "channels: &c {oncall: {kind: log, template: *c}}\n"
    assert load_config_file(directory, config) is None


_INVALID_UTF8 = st.sampled_from(
    [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80", b"\x80\x80"]
)


@SETTINGS
@given(line=st.integers(0, 6), bad=_INVALID_UTF8, config=st.booleans())
@example(line=0, bad=b"\xff", config=False)  # regression: "cannot read", with no line
def test_bytes_that_are_not_utf8_are_refused_at_their_line(
    directory: Path, line: int, bad: bytes, config: bool
) -> None:
    """A byte sequence that is not UTF-8 is reported at the line that holds it."""
    good = (
        "server:\n  port: 8470\nlimits:\n  retries: 3\nchannels:\n  oncall: {kind: log}\n# end\n"
        if config
        else "name: x\nmatch: {}\nsteps:\n  - action: notify\n    with: {channels: [oncall]}\n#\n# end\n"
    )
    lines = good.encode().splitlines(keepends=True)
    lines[line] = lines[line].rstrip(b"\n") + b" # " + bad + b"\n"
    data = b"".join(lines)
    path = write(directory, data, "config/responder.yaml" if config else "playbooks/p.yaml")

    def load() -> object:
        if config:
            return load_settings(path, environ={})
        return load_playbooks([path.parent], registry(), channels={"oncall"})

    with pytest.raises(ConfigError) as caught:
        load()
    assert str(caught.value).startswith(f"{path}:{line + 1}: "), str(caught.value)
    assert "UTF-8" in str(caught.value)


@SETTINGS
@given(data=st.binary(max_size=512))
@example(data=b"\x00")  # regression: no line
def test_binary_files_are_loaded_or_refused_at_file_line(directory: Path, data: bytes) -> None:
    """Random bytes as a playbook file and as the configuration: file:line, nothing else."""
    load_playbook_file(directory, data)
    load_config_file(directory, data)


# The configuration file.


def _config() -> dict[str, Any]:
    return {
        "data_dir": "/var/lib/responder",
        "log_level": "INFO",
        "server": {"host": "127.0.0.1", "port": 8470, "max_body_bytes": 1048576},
        "docker": {"timeout": 10},
        "targets": {"name_labels": ["container", "name"]},
        "channels": {
            "oncall": {"kind": "log"},
            "hook": {"kind": "webhook", "url": "https://hooks.example/x", "template": "{{ x }}"},
        },
        "protection": {"label": "responder.protect=true", "names": ["falco*"]},
        "limits": {"max_containments": 5, "window": "10m", "retries": 3},
        "incidents": {"cooldown": "10m", "dry_run": False},
        "notifications": {"give_up_after": "1h"},
    }


_CONFIG_KEYS = (*_config(), "tls", "auth", "unknown")


@st.composite
def configs(draw: st.DrawFn) -> str:
    """A valid configuration, then sections and their keys given wrong values or removed."""
    config = _config()
    for section in ("server", "limits", "incidents", "notifications", "docker", "protection"):
        keys = (*config[section], "extra")
        config[section] = apply(config[section], draw(mutations(keys, {"window": _HUGE_TEXT})))
    hook = dict(config["channels"]["hook"])
    hook["template"] = draw(_TEMPLATES)
    hook = apply(hook, draw(mutations(("kind", "url", "template", "headers"))))
    config["channels"] = {**config["channels"], "hook": hook}
    config = apply(config, draw(mutations(_CONFIG_KEYS, {"limits": yaml_values})))
    return dump(config)


@SETTINGS
@given(text=configs())
# Regression: RecursionError from Jinja parsing a channel template nested a thousand deep.
@example(text="channels:\n  oncall: {kind: log, template: '" + DEEP + "'}\n")
def test_configurations_with_wrong_values_never_crash_the_loader(
    directory: Path, text: str
) -> None:
    """A wrong type, huge number or deep template anywhere: settings, or file:line.

    Some drawn changes are harmless (a removed section takes its defaults): those load.
    """
    load_config_file(directory, text)


@SETTINGS
@given(value=yaml_values)
@example(value={" ": None})  # regression: the key was shown as nothing
def test_any_yaml_document_as_the_configuration_is_loaded_or_refused_at_file_line(
    directory: Path, value: Any
) -> None:
    """Any YAML document as the configuration: settings, or a ConfigError at file:line."""
    load_config_file(directory, dump(value))


@SETTINGS
@given(text=raw_yaml())
# Regressions: IndexError, ValueError (month), ValueError (offset), ValueError (int).
@example(text="!!float ")
@example(text="!!timestamp 2024-13-45")
@example(text="2001-12-14t21:59:43.10-25:00")
@example(text="!!int 'x'")
def test_raw_yaml_syntax_as_the_configuration_is_loaded_or_refused_at_file_line(
    directory: Path, text: str
) -> None:
    """YAML syntax in any order as the configuration: settings, or file:line."""
    load_config_file(directory, text)


@hostile_settings(25)
@given(
    depth=st.one_of(st.integers(1, 60), st.integers(200, 20_000)),
    bomb=st.tuples(st.integers(1, 8), st.integers(2, 10)),
)
def test_deep_and_aliased_configurations_are_refused_quickly(
    directory: Path, depth: int, bomb: tuple[int, int]
) -> None:
    """Deep nesting and alias bombs in the configuration: refused at file:line, quickly."""
    message = config_refusal(directory, "limits: " + "[" * depth + "]" * depth + "\n")
    if depth > MAX_DEPTH:
        assert TOO_DEEP in message
    levels, fanout = bomb
    anchors = [f"  a0: &a0 [{', '.join(['lol'] * fanout)}]"]
    anchors.extend(
        f"  a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * fanout)}]" for n in range(1, levels + 1)
    )
    text = "x:\n" + "\n".join(anchors) + f"\nprotection:\n  names: *a{levels}\n"
    started = time.perf_counter()
    message = config_refusal(directory, text)
    assert time.perf_counter() - started < BOMB_SECONDS
    if fanout ** (levels + 1) > MAX_NODES:
        assert TOO_MANY in message
