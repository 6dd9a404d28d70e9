"""Credential settings: a token per role, kept apart, and client certificate subjects per role."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest

from responder.errors import ConfigError
from responder.settings import ClientSubjects, load_settings
from responder.settings._subjects import canonical_subject, peer_subject

if TYPE_CHECKING:
    from pathlib import Path

    from responder.settings import Settings

SECRET = "one-secret-for-two-roles"
ROLE_VARIABLES = ("RESPONDER_TOKEN", "RESPONDER_READ_TOKEN", "RESPONDER_ADMIN_TOKEN")


def load_yaml(tmp_path: Path, text: str) -> Settings:
    """Settings from a config file written from indented text, with an empty environment."""
    config = tmp_path / "r.yaml"
    config.write_text(textwrap.dedent(text))
    return load_settings(config, environ={})


def refused(tmp_path: Path, text: str) -> str:
    """The ConfigError message for a config file that must be refused."""
    with pytest.raises(ConfigError) as caught:
        load_yaml(tmp_path, text)
    return str(caught.value)


def test_read_token_comes_from_its_variable_and_stays_secret() -> None:
    """RESPONDER_READ_TOKEN is the read role's token and does not print."""
    settings = load_settings(None, environ={"RESPONDER_READ_TOKEN": "reader-secret"})
    assert settings.tokens()["read"].get_secret_value() == "reader-secret"
    assert "reader-secret" not in repr(settings)


def test_read_token_file_comes_from_its_variable(tmp_path: Path) -> None:
    """RESPONDER_READ_TOKEN_FILE names the file; surrounding whitespace is not the token."""
    (tmp_path / "read").write_text("  reader-secret\n")
    settings = load_settings(None, environ={"RESPONDER_READ_TOKEN_FILE": str(tmp_path / "read")})
    assert settings.auth.read_token_file == tmp_path / "read"
    assert settings.tokens()["read"].get_secret_value() == "reader-secret"


@pytest.mark.parametrize("key", ["token", "read_token", "admin_token"])
def test_any_token_written_in_the_config_file_is_refused(tmp_path: Path, key: str) -> None:
    """No role's token lives in the config file; the error names the line and where it goes."""
    message = refused(tmp_path, f"auth:\n  {key}: hunter2\n")
    assert f"r.yaml:2: auth.{key}: secrets do not belong" in message
    assert f"auth.{key}_file" in message
    assert "hunter2" not in message


@pytest.mark.parametrize("variable", ROLE_VARIABLES)
def test_a_token_and_its_file_together_are_ambiguous(tmp_path: Path, variable: str) -> None:
    """For every role, the variable and the file at once is an error, not a silent choice."""
    environ = {variable: "a", f"{variable}_FILE": str(tmp_path / "t")}
    with pytest.raises(ConfigError, match=f"set {variable} or {variable}_FILE, not both"):
        load_settings(None, environ=environ)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("RESPONDER_TOKEN", "RESPONDER_ADMIN_TOKEN"),
        ("RESPONDER_TOKEN", "RESPONDER_READ_TOKEN"),
        ("RESPONDER_READ_TOKEN", "RESPONDER_ADMIN_TOKEN"),
    ],
)
def test_a_token_file_shared_by_two_roles_names_both_settings(
    tmp_path: Path, first: str, second: str
) -> None:
    """Two roles reading one secret from two files: both files are named, the secret is not."""
    (tmp_path / "a").write_text(SECRET + "\n")
    (tmp_path / "b").write_text(SECRET)
    environ = {f"{first}_FILE": str(tmp_path / "a"), f"{second}_FILE": str(tmp_path / "b")}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ=environ).tokens()
    message = str(caught.value)
    assert f"{first}_FILE (auth." in message
    assert f"{second}_FILE (auth." in message
    assert "could then" in message  # and says why
    assert SECRET not in message


def test_one_token_for_all_three_roles_lists_every_pair() -> None:
    """Intake, read and admin all the same: each pair that may not share is named."""
    environ = dict.fromkeys(ROLE_VARIABLES, SECRET)
    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ=environ).tokens()
    lines = str(caught.value).splitlines()[1:]
    assert len(lines) == 3
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("variable", ROLE_VARIABLES)
@pytest.mark.parametrize("bad", ["\udce9", "tok\udcc0\udcaf", "\udced\udca0\udc80x"])
def test_a_token_variable_that_is_not_utf8_is_refused(variable: str, bad: str) -> None:
    """Bytes of the environment that are not UTF-8 (kept as surrogates) make no token."""
    settings = load_settings(None, environ={variable: bad})
    with pytest.raises(ConfigError, match=f"{variable}: is not UTF-8 text"):
        settings.tokens()


@pytest.mark.parametrize("variable", ROLE_VARIABLES)
def test_a_token_file_that_is_not_utf8_is_refused_without_its_bytes(
    tmp_path: Path, variable: str
) -> None:
    """A token file of Latin-1 text is an error naming the file and not the bytes in it."""
    (tmp_path / "t").write_bytes(b"cl\xe9-secr\xe8te\n")
    settings = load_settings(None, environ={f"{variable}_FILE": str(tmp_path / "t")})
    with pytest.raises(ConfigError, match=r"token file .*/t: is not UTF-8 text$") as caught:
        settings.tokens()
    assert "0xe9" not in str(caught.value)


@pytest.mark.parametrize("header", ["X Token", "X-Token:", "X-T\u00f6ken", "X-Token\r\nX-Evil: 1"])
def test_token_header_must_be_a_header_name(header: str) -> None:
    """RESPONDER_TOKEN_HEADER that no client could send is refused at start-up."""
    with pytest.raises(ConfigError, match=r"RESPONDER_TOKEN_HEADER: auth\.header"):
        load_settings(None, environ={"RESPONDER_TOKEN_HEADER": header})


TLS = """
tls:
  cert: /etc/responder/server.pem
  key: /etc/responder/server.key
  client_ca: /etc/responder/ca.pem
  client_subjects:
"""


@pytest.mark.parametrize(
    "spelling",
    [
        "CN=oncall,O=Example Ltd,C=DE",
        "C=DE, O=Example Ltd, CN=oncall",
        "c = DE , o = Example Ltd , cn = oncall",
        "commonName=oncall+organizationName=Example Ltd+countryName=DE",
        "2.5.4.3=oncall, O=Example\\20Ltd, C=DE",
        "CN=\\6Fncall, O=Example Ltd, C=DE",
    ],
)
def test_client_subjects_are_held_in_one_form(tmp_path: Path, spelling: str) -> None:
    """Order, spaces, long names, OIDs and escapes: one subject, one canonical form."""
    settings = load_yaml(tmp_path, TLS + f"    admin: ['{spelling}']\n")
    assert settings.client_subjects().admin == ("C=DE,CN=oncall,O=Example Ltd",)


@pytest.mark.parametrize(
    "spelling",
    [
        "CN=oncall, O=Example Ltd",  # one attribute fewer
        "CN=OnCall, O=Example Ltd, C=DE",  # values keep their case
        "CN=oncall, O=Example Ltd, C=DE, OU=ops",  # one more
    ],
)
def test_a_subject_is_matched_whole(tmp_path: Path, spelling: str) -> None:
    """Fewer, more or differently cased attributes are another subject."""
    settings = load_yaml(tmp_path, TLS + f"    admin: ['{spelling}']\n")
    assert settings.client_subjects().admin != ("C=DE,CN=oncall,O=Example Ltd",)


@pytest.mark.parametrize(
    ("spelling", "problem"),
    [
        ("oncall", "expected ATTRIBUTE=value"),
        ("CM=oncall", "unknown attribute 'CM'"),
        ("CN=", "an attribute has an empty value"),
        ("CN=on\\qcall", "bad escape"),
        ("CN=\\ff\\fe", "not UTF-8 text"),
        ("", "empty subject"),
    ],
)
def test_a_subject_that_cannot_be_read_names_file_line_and_problem(
    tmp_path: Path, spelling: str, problem: str
) -> None:
    """A bad subject is refused at load with its line, never silently never matching."""
    message = refused(tmp_path, TLS + f"    read: ['{spelling}']\n")
    assert "r.yaml:7: tls.client_subjects.read.0:" in message
    assert problem in message


@pytest.mark.parametrize(
    ("lists", "why"),
    [
        ("intake: ['CN=falco']\n    admin: ['CN=falco']", "could then release"),
        ("intake: ['CN=falco']\n    read: ['CN=falco']", "could then read"),
        ("read: ['O=x, CN=desk']\n    admin: ['CN=desk,O=x']", "could then also release"),
    ],
)
def test_a_subject_listed_for_two_roles_is_refused(tmp_path: Path, lists: str, why: str) -> None:
    """One certificate for two roles is refused as one token for two is, with the reason."""
    message = refused(tmp_path, TLS + f"    {lists}\n")
    assert "is listed for both" in message
    assert why in message


def test_client_subjects_need_a_client_ca(tmp_path: Path) -> None:
    """Subjects without a client CA would never be asked for: refused, saying so."""
    message = refused(
        tmp_path,
        """
        tls:
          cert: /c.pem
          key: /c.key
          client_subjects: {read: ['CN=desk']}
        """,
    )
    assert "client_subjects needs client_ca" in message


def test_without_subject_lists_a_certificate_may_only_send_alerts() -> None:
    """No lists: any verified certificate sends alerts, none reads or releases."""
    subjects = ClientSubjects()
    assert subjects.allows("intake")("CN=anyone")
    assert not subjects.allows("read")("CN=anyone")
    assert not subjects.allows("admin")("CN=anyone")


def test_a_certificate_listed_to_read_does_not_send_alerts() -> None:
    """Without an intake list, certificates listed for read or admin act only in those roles."""
    subjects = ClientSubjects(read=("CN=desk",), admin=("CN=oncall",))
    assert not subjects.allows("intake")("CN=desk")
    assert not subjects.allows("intake")("CN=oncall")
    assert subjects.allows("intake")("CN=falco")
    assert subjects.allows("read")("CN=oncall")  # the admin reads too
    assert not subjects.allows("admin")("CN=desk")


@pytest.mark.parametrize(
    "value",
    ["a\nb", "x,y+z", " lead", "trail ", "#hash", 'q"<>;=\\', "\u2028line", "caf\u00e9 \u2603"],
)
def test_a_certificate_subject_reads_back_as_the_same_one_line_subject(value: str) -> None:
    """Any CN a certificate holds is one printable line that, written in the settings, matches."""
    subject = peer_subject({"subject": ((("commonName", value),), (("organizationName", "x"),))})
    assert subject is not None
    assert subject.isprintable()
    assert canonical_subject(subject) == subject


def test_a_certificate_without_a_subject_is_still_a_certificate() -> None:
    """An empty subject (names only in subjectAltName) is "", not "no certificate"."""
    assert peer_subject({"subjectAltName": (("DNS", "falco"),)}) == ""
    assert peer_subject({}) is None
    assert peer_subject(None) is None
