"""Settings layers (defaults, file, environment, flags) and the errors that name where a value came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from responder.errors import ConfigError
from responder.settings import Settings, load_settings


def write(path: Path, text: str) -> Path:
    """Write a config file and return its path."""
    path.write_text(text)
    return path


def test_no_file_no_environment_gives_the_embedded_defaults() -> None:
    """Loopback, port 8470, ./data and ./playbooks, no credential."""
    settings = load_settings(None, environ={})
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8470
    assert settings.data_dir == Path("data")
    assert settings.playbooks == Path("playbooks")
    assert not settings.has_credential


def test_flag_beats_environment_beats_file(tmp_path: Path) -> None:
    """Each layer overrides the one below it, key by key."""
    config = write(tmp_path / "r.yaml", "server:\n  port: 1111\n  host: 127.0.0.2\n")
    environ = {"RESPONDER_PORT": "2222", "RESPONDER_DATA_DIR": "/srv/env"}
    settings = load_settings(config, environ=environ, overrides={"RESPONDER_PORT": 3333})
    assert settings.server.port == 3333
    assert settings.server.host == "127.0.0.2"
    assert settings.data_dir == Path("/srv/env")


def test_unknown_key_in_file_names_file_line_and_field(tmp_path: Path) -> None:
    """A typo is an error with file:line, never ignored."""
    config = write(tmp_path / "r.yaml", "server:\n  port: 8080\n  hots: 0.0.0.0\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})
    assert f"{config}:3: server.hots: unknown field" in str(caught.value)


def test_wrong_type_in_file_names_file_line_and_field(tmp_path: Path) -> None:
    """A value of the wrong type points at its line."""
    config = write(tmp_path / "r.yaml", "data_dir: /d\nserver:\n  port: eighty\n")
    with pytest.raises(
        ConfigError, match=r"r\.yaml:3: server\.port: Input should be a valid integer"
    ):
        load_settings(config, environ={})


def test_bad_environment_value_names_the_variable() -> None:
    """A bad RESPONDER_* value is reported by its variable name."""
    with pytest.raises(ConfigError, match=r"environment variable RESPONDER_PORT: server\.port"):
        load_settings(None, environ={"RESPONDER_PORT": "http"})


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    """A YAML syntax error says where."""
    config = write(tmp_path / "r.yaml", "server:\n  port: [8080\n")
    with pytest.raises(ConfigError, match=r"r\.yaml:\d+: invalid YAML"):
        load_settings(config, environ={})


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    """A named file that does not exist is not silently skipped."""
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.yaml", environ={})


def test_config_must_be_a_mapping(tmp_path: Path) -> None:
    """A list at the top is refused."""
    with pytest.raises(ConfigError, match="one YAML mapping"):
        load_settings(write(tmp_path / "r.yaml", "- a\n- b\n"), environ={})


def test_empty_config_file_means_defaults(tmp_path: Path) -> None:
    """An empty file changes nothing."""
    assert load_settings(write(tmp_path / "r.yaml", "# nothing yet\n"), environ={}) == Settings()


def test_token_literal_in_config_file_is_refused(tmp_path: Path) -> None:
    """Secrets never live in the config file; the error says where to put them."""
    config = write(tmp_path / "r.yaml", "auth:\n  token: hunter2\n")
    with pytest.raises(ConfigError, match=r"r\.yaml:2: auth\.token: secrets do not belong"):
        load_settings(config, environ={})


def test_token_from_environment_is_secret() -> None:
    """RESPONDER_TOKEN is held as a secret that does not print."""
    settings = load_settings(None, environ={"RESPONDER_TOKEN": "hunter2"})
    assert settings.has_credential
    assert "hunter2" not in repr(settings)
    token = settings.read_token()
    assert token is not None
    assert token.get_secret_value() == "hunter2"


def test_token_and_token_file_together_are_ambiguous(tmp_path: Path) -> None:
    """Two token sources at once is an error rather than a silent choice."""
    environ = {"RESPONDER_TOKEN": "a", "RESPONDER_TOKEN_FILE": str(tmp_path / "t")}
    with pytest.raises(ConfigError, match="not both"):
        load_settings(None, environ=environ)


def test_empty_token_file_is_an_error(tmp_path: Path) -> None:
    """An empty secret file would authenticate nothing; say so."""
    (tmp_path / "t").write_text("\n")
    settings = load_settings(None, environ={"RESPONDER_TOKEN_FILE": str(tmp_path / "t")})
    with pytest.raises(ConfigError, match="is empty"):
        settings.read_token()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "responder.example"])  # noqa: S104
def test_non_loopback_without_credential_is_refused(host: str) -> None:
    """Listening beyond this machine with no credential needs --insecure."""
    settings = load_settings(None, environ={"RESPONDER_HOST": host})
    with pytest.raises(ConfigError, match="--insecure"):
        settings.check_exposure()


@pytest.mark.parametrize(
    "environ",
    [
        {"RESPONDER_HOST": "0.0.0.0", "RESPONDER_TOKEN": "t"},  # noqa: S104
        {"RESPONDER_HOST": "0.0.0.0", "RESPONDER_INSECURE": "true"},  # noqa: S104
        {"RESPONDER_HOST": "::1"},
        {"RESPONDER_HOST": "localhost"},
    ],
)
def test_exposure_allowed_with_credential_insecure_or_loopback(environ: dict[str, str]) -> None:
    """A token, an explicit --insecure, or a loopback address may listen."""
    load_settings(None, environ=environ).check_exposure()
