"""Settings layers (defaults, file, environment, flags) and the errors that name where a value came from."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from _peers import peers_required, require_binary

from responder.errors import ConfigError
from responder.journal import Priority
from responder.notifications.channels import (
    EmailChannel,
    LogChannel,
    PagerDutyChannel,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
)
from responder.secrets import SecretRef
from responder.settings import IncidentSettings, Limits, Protection, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    """Write a config file and return its path."""
    path.write_text(text)
    return path


def load_yaml(tmp_path: Path, text: str) -> Settings:
    """Settings from a config file written from indented text, with an empty environment."""
    return load_settings(write(tmp_path / "r.yaml", textwrap.dedent(text)), environ={})


def refused(tmp_path: Path, text: str) -> str:
    """The ConfigError message for a config file that must be refused."""
    with pytest.raises(ConfigError) as caught:
        load_yaml(tmp_path, text)
    return str(caught.value)


def test_no_file_no_environment_gives_the_embedded_defaults() -> None:
    """Loopback, port 8470, ./data and ./playbooks, no credential."""
    settings = load_settings(None, environ={})
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8470
    assert settings.data_dir == Path("data").absolute()  # made absolute where it is read
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
    loaded = load_settings(write(tmp_path / "r.yaml", "# nothing yet\n"), environ={})
    assert loaded.model_dump() == Settings().model_dump()


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
    token = settings.tokens()["intake"]
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
        settings.tokens()


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


def test_no_file_gives_safe_defaults_for_channels_protection_limits_and_incidents() -> None:
    """`oncall` logs, the protection label, five containments per 10m, no global dry-run."""
    settings = load_settings(None, environ={})
    assert settings.channels == {"oncall": LogChannel()}
    assert settings.channel_names() == {"oncall"}
    assert settings.protection == Protection(label="responder.protect=true", protect_self=True)
    assert settings.limits == Limits(
        max_containments=5,
        window=timedelta(minutes=10),
        concurrency=8,
        step_timeout=timedelta(seconds=60),
        retries=3,
        retry_backoff=timedelta(seconds=1),
        retry_backoff_max=timedelta(seconds=30),
    )
    assert settings.incidents == IncidentSettings(cooldown=timedelta(minutes=10), dry_run=False)


def test_webhook_channel_is_parsed_with_headers_signature_and_timeout(tmp_path: Path) -> None:
    """A webhook keeps its URL, plain and secret headers, HMAC key and timeout."""
    settings = load_yaml(
        tmp_path,
        """
        channels:
          oncall:
            kind: webhook
            url: https://hooks.example/responder
            headers: {X-Env: prod}
            secret_headers: {X-Api-Key: {env: HOOK_KEY}}
            hmac_secret: {file: /run/secrets/hmac}
            timeout: 5s
        """,
    )
    channel = settings.channels["oncall"]
    assert isinstance(channel, WebhookChannel)
    assert channel.resolve_url() == "https://hooks.example/responder"
    assert channel.headers == {"X-Env": "prod"}
    assert channel.secret_headers == {"X-Api-Key": SecretRef(env="HOOK_KEY")}
    assert channel.hmac_secret == SecretRef(file=Path("/run/secrets/hmac"))
    assert channel.hmac_header == "X-Responder-Signature"
    assert channel.timeout == timedelta(seconds=5)


def test_slack_channel_is_parsed(tmp_path: Path) -> None:
    """Slack takes its webhook URL by reference and optional channel and username."""
    settings = load_yaml(
        tmp_path,
        """
        channels:
          ops-slack:
            kind: slack
            webhook_url: {env: SLACK_WEBHOOK_URL}
            channel: "#security"
            username: responder
        """,
    )
    channel = settings.channels["ops-slack"]
    assert isinstance(channel, SlackChannel)
    assert channel.webhook_url == SecretRef(env="SLACK_WEBHOOK_URL")
    assert (channel.channel, channel.username) == ("#security", "responder")


def test_teams_channel_is_parsed(tmp_path: Path) -> None:
    """Teams takes its webhook URL by reference."""
    settings = load_yaml(
        tmp_path,
        """
        channels:
          teams:
            kind: teams
            webhook_url: {file: /run/secrets/teams_url}
        """,
    )
    channel = settings.channels["teams"]
    assert isinstance(channel, TeamsChannel)
    assert channel.webhook_url == SecretRef(file=Path("/run/secrets/teams_url"))


def test_pagerduty_channel_is_parsed_with_its_default_endpoint(tmp_path: Path) -> None:
    """PagerDuty takes a routing key by reference and defaults to the Events v2 endpoint."""
    settings = load_yaml(
        tmp_path,
        """
        channels:
          pager:
            kind: pagerduty
            routing_key: {env: PD_ROUTING_KEY}
        """,
    )
    channel = settings.channels["pager"]
    assert isinstance(channel, PagerDutyChannel)
    assert channel.routing_key == SecretRef(env="PD_ROUTING_KEY")
    assert channel.url == "https://events.pagerduty.com/v2/enqueue"


def test_pagerduty_severity_map_overrides_the_default_per_priority(tmp_path: Path) -> None:
    """A mapped Falco priority uses its PagerDuty severity; the rest keep the default."""
    settings = load_yaml(
        tmp_path,
        """
        channels:
          pager:
            kind: pagerduty
            routing_key: {env: PD_ROUTING_KEY}
            severity_map: {warning: critical}
        """,
    )
    channel = settings.channels["pager"]
    assert isinstance(channel, PagerDutyChannel)
    assert channel.severity(Priority.WARNING) == "critical"
    assert channel.severity(Priority.ERROR) == "error"
    assert channel.severity(Priority.NOTICE) == "info"


def test_email_channel_is_parsed_with_starttls_on_587(tmp_path: Path) -> None:
    """Email defaults to STARTTLS on port 587 and takes its password by reference."""
    settings = load_yaml(
        tmp_path,
        """
        channels:
          mail:
            kind: email
            host: smtp.example.com
            username: responder
            password: {env: SMTP_PASSWORD}
            sender: Responder <responder@example.com>
            recipients: [oncall@example.com]
        """,
    )
    channel = settings.channels["mail"]
    assert isinstance(channel, EmailChannel)
    assert (channel.host, channel.port, channel.security) == ("smtp.example.com", 587, "starttls")
    assert channel.password == SecretRef(env="SMTP_PASSWORD")
    assert channel.recipients == ("oncall@example.com",)


def test_email_with_implicit_tls_defaults_to_port_465(tmp_path: Path) -> None:
    """`security: tls` without a port means the SMTPS port."""
    settings = load_yaml(
        tmp_path,
        """
        channels:
          mail: {kind: email, host: smtp, security: tls, sender: a@b.example, recipients: [c@d.example]}
        """,
    )
    channel = settings.channels["mail"]
    assert isinstance(channel, EmailChannel)
    assert channel.port == 465


def test_email_needs_at_least_one_recipient(tmp_path: Path) -> None:
    """An email channel that sends to nobody is an error at its line."""
    message = refused(
        tmp_path,
        """
        channels:
          mail:
            kind: email
            host: smtp
            sender: a@b.example
            recipients: []
        """,
    )
    assert "r.yaml:7: channels.mail.recipients:" in message


def test_email_username_without_password_is_refused(tmp_path: Path) -> None:
    """A login needs both halves."""
    message = refused(
        tmp_path,
        """
        channels:
          mail: {kind: email, host: smtp, username: u, sender: a@b.example, recipients: [c@d.example]}
        """,
    )
    assert "channels.mail: give both username and password, or neither" in message


def test_channel_min_priority_is_read_as_a_falco_priority(tmp_path: Path) -> None:
    """`min_priority: warn` becomes Warning, and lower events are not wanted."""
    settings = load_yaml(
        tmp_path,
        """
        channels:
          teams: {kind: teams, webhook_url: {env: T}, min_priority: warn, template: "{{ event.name }}"}
        """,
    )
    channel = settings.channels["teams"]
    assert channel.min_priority is Priority.WARNING
    assert channel.template == "{{ event.name }}"
    assert channel.wants(Priority.CRITICAL)
    assert not channel.wants(Priority.NOTICE)


def test_unknown_min_priority_names_the_known_levels(tmp_path: Path) -> None:
    """A misspelt priority lists the levels there are."""
    message = refused(
        tmp_path,
        """
        channels:
          teams:
            kind: teams
            webhook_url: {env: T}
            min_priority: severe
        """,
    )
    assert "r.yaml:6: channels.teams.min_priority: unknown priority 'severe'" in message
    assert "Emergency" in message


def test_literal_secret_string_is_refused_with_file_and_line(tmp_path: Path) -> None:
    """A Slack URL pasted into the file is refused where it stands, saying where secrets go."""
    message = refused(
        tmp_path,
        """
        channels:
          slack:
            kind: slack
            webhook_url: https://hooks.slack.com/services/T000/B000/XXXX
        """,
    )
    assert "r.yaml:5: channels.slack.webhook_url: secrets do not belong" in message
    assert "environment variable or a file" in message


def test_unknown_channel_kind_names_the_allowed_kinds(tmp_path: Path) -> None:
    """`kind: fax` is reported at its line with every kind there is."""
    message = refused(tmp_path, "channels:\n  desk:\n    kind: fax\n")
    assert (
        "r.yaml:3: channels.desk.kind: unknown kind 'fax': one of "
        "log, webhook, slack, teams, pagerduty, email"
    ) in message


def test_missing_channel_kind_names_the_allowed_kinds(tmp_path: Path) -> None:
    """A channel without `kind` says which kinds it could be."""
    message = refused(tmp_path, "channels:\n  desk:\n    url: https://x.example\n")
    assert "r.yaml:2: channels.desk: missing kind: one of log, webhook, slack" in message


def test_channel_field_error_names_the_field_not_the_kind(tmp_path: Path) -> None:
    """A typo inside a channel points at its own line, without the union tag in the path."""
    message = refused(
        tmp_path,
        """
        channels:
          slack:
            kind: slack
            webhook_url: {env: S}
            chanel: "#ops"
        """,
    )
    assert "r.yaml:6: channels.slack.chanel: unknown field" in message


def test_bad_channel_name_is_refused(tmp_path: Path) -> None:
    """Names are lower-case letters, digits, dashes and underscores."""
    message = refused(
        tmp_path, "channels:\n  On Call:\n    kind: teams\n    webhook_url: {env: T}\n"
    )
    assert "r.yaml:2: channels.On Call: channel name 'On Call'" in message


def test_channel_names_lists_the_configured_channels(tmp_path: Path) -> None:
    """Playbook loading checks `notify` steps against these names."""
    settings = load_yaml(
        tmp_path,
        """
        channels:
          a: {kind: teams, webhook_url: {env: A}}
          b-2: {kind: slack, webhook_url: {env: B}}
        """,
    )
    assert settings.channel_names() == {"a", "b-2"}


@pytest.mark.parametrize(
    ("setting", "field", "message"),
    [
        ('headers: {"X Team": a}', "headers.X Team", "'X Team' is not a valid HTTP header name"),
        (
            'headers: {X-Team: "a\\r\\nX-Evil: 1"}',
            "headers.X-Team",
            "a header value cannot contain a line break",
        ),
        (
            "url_secret: {env: U}\n    hmac_header: Bad Header",
            "hmac_header",
            "'Bad Header' is not a valid",
        ),
        ("min_priority: 3", "min_priority", "a priority is a Falco level name"),
        ("timeout: -5", "timeout", "a duration cannot be negative"),
    ],
)
def test_bad_webhook_value_is_refused_naming_its_field(
    tmp_path: Path, setting: str, field: str, message: str
) -> None:
    """Header names, header values, priorities and durations are checked where they are written."""
    url = "" if "url_secret" in setting else "url: https://a.example\n    "
    text = f"channels:\n  hook:\n    kind: webhook\n    {url}{setting}\n"
    assert f"channels.hook.{field}: {message}" in refused(tmp_path, text)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("sender: nobody", "'nobody' is not an email address"),
        ('sender: "a@b.example\\r\\nBcc: x@y.example"', "cannot contain a line break"),
        ("sender: a@b.example\n    recipients: [not an address]", "is not an email address"),
    ],
)
def test_bad_email_address_is_refused(tmp_path: Path, setting: str, message: str) -> None:
    """Addresses must be addresses, with no line breaks that could inject headers."""
    recipients = "" if "recipients" in setting else "\n    recipients: [c@d.example]"
    text = f"channels:\n  mail:\n    kind: email\n    host: smtp\n    {setting}{recipients}\n"
    assert message in refused(tmp_path, text)


def test_webhook_url_with_white_space_is_refused(tmp_path: Path) -> None:
    """A URL with a space in it is a paste error, not a URL."""
    text = 'channels:\n  hook:\n    kind: webhook\n    url: "https://a.example/x y"\n'
    assert "channels.hook.url: a URL cannot contain white space" in refused(tmp_path, text)


def test_webhook_needs_exactly_one_of_url_and_url_secret(tmp_path: Path) -> None:
    """Both or neither is ambiguous."""
    message = refused(
        tmp_path,
        """
        channels:
          hook: {kind: webhook, url: "https://a.example", url_secret: {env: U}}
        """,
    )
    assert "channels.hook: give exactly one of url or url_secret" in message


def test_webhook_url_must_be_http_or_https(tmp_path: Path) -> None:
    """Any other scheme is refused at its line."""
    message = refused(tmp_path, "channels:\n  hook:\n    kind: webhook\n    url: ftp://x.example\n")
    assert "r.yaml:4: channels.hook.url: must be an absolute http:// or https:// URL" in message


def test_credential_header_in_plain_headers_is_refused(tmp_path: Path) -> None:
    """An Authorization header belongs in secret_headers."""
    message = refused(
        tmp_path,
        """
        channels:
          hook:
            kind: webhook
            url: https://a.example
            headers: {Authorization: Bearer abc}
        """,
    )
    assert "move it to secret_headers" in message


def test_header_set_twice_is_refused(tmp_path: Path) -> None:
    """The same header, in any case, in headers and secret_headers is ambiguous."""
    message = refused(
        tmp_path,
        """
        channels:
          hook:
            kind: webhook
            url: https://a.example
            headers: {X-Team: sec}
            secret_headers: {x-team: {env: T}}
        """,
    )
    assert "header set twice: x-team" in message


def test_webhook_url_by_reference_is_read_and_checked() -> None:
    """A secret URL is read when needed and must still be http(s)."""
    channel = WebhookChannel(url_secret=SecretRef(env="HOOK_URL"))
    assert channel.resolve_url({"HOOK_URL": "https://a.example/t0k3n\n"}) == (
        "https://a.example/t0k3n"
    )
    with pytest.raises(ConfigError, match="environment variable HOOK_URL: must be an absolute"):
        channel.resolve_url({"HOOK_URL": "a.example"})


def test_secret_ref_resolves_from_the_environment() -> None:
    """`{env: NAME}` reads the variable from the mapping it is given."""
    secret = SecretRef(env="SLACK_URL").resolve(environ={"SLACK_URL": "https://hooks"})
    assert secret.get_secret_value() == "https://hooks"


def test_secret_ref_resolves_from_a_file_without_its_trailing_newline(tmp_path: Path) -> None:
    """`{file: PATH}` reads the file, as Docker secrets are mounted, minus the final newline."""
    (tmp_path / "key").write_text("s3cret value\n")
    secret = SecretRef(file=tmp_path / "key").resolve(environ={})
    assert secret.get_secret_value() == "s3cret value"


def test_secret_ref_missing_variable_names_the_variable() -> None:
    """An unset variable is a ConfigError that says which."""
    with pytest.raises(ConfigError, match="environment variable PD_KEY: is not set"):
        SecretRef(env="PD_KEY").resolve(environ={})


def test_secret_ref_empty_variable_is_an_error() -> None:
    """An empty variable would authenticate nothing."""
    with pytest.raises(ConfigError, match="environment variable PD_KEY: is empty"):
        SecretRef(env="PD_KEY").resolve(environ={"PD_KEY": ""})


def test_secret_ref_missing_file_names_the_file(tmp_path: Path) -> None:
    """A file that is not there is a ConfigError that names it."""
    path = tmp_path / "absent"
    with pytest.raises(ConfigError, match=re.escape(f"secret file {path}: cannot read")):
        SecretRef(file=path).resolve(environ={})


def test_secret_ref_empty_file_is_an_error(tmp_path: Path) -> None:
    """A file holding only a newline is empty."""
    (tmp_path / "key").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        SecretRef(file=tmp_path / "key").resolve(environ={})


@pytest.mark.parametrize("data", [{}, {"env": "A", "file": "/run/secrets/a"}])
def test_secret_ref_needs_exactly_one_source(data: dict[str, str]) -> None:
    """Neither or both of env and file is refused."""
    with pytest.raises(ValueError, match="exactly one of env"):
        SecretRef.model_validate(data)


def test_check_secrets_lists_every_unreadable_secret_by_field(tmp_path: Path) -> None:
    """Start-up can report every missing secret at once, each by its setting."""
    settings = load_yaml(
        tmp_path,
        """
        channels:
          hook:
            kind: webhook
            url: https://a.example
            secret_headers: {X-Api-Key: {env: HOOK_KEY}}
          pager: {kind: pagerduty, routing_key: {env: PD_KEY}}
        """,
    )
    with pytest.raises(ConfigError) as caught:
        settings.check_secrets(environ={"PD_KEY": "k"})
    message = str(caught.value)
    assert "channels.hook.secret_headers.X-Api-Key: environment variable HOOK_KEY" in message
    assert "PD_KEY" not in message


def test_protection_label_is_split_into_key_and_value(tmp_path: Path) -> None:
    """`key=value` is read as the label key and the value it must have."""
    settings = load_yaml(tmp_path, "protection:\n  label: acme.io/responder=off\n")
    assert settings.protection.label_key == "acme.io/responder"
    assert settings.protection.label_value == "off"


def test_protection_label_without_equals_is_refused(tmp_path: Path) -> None:
    """`foo` is not a key=value label; the error names protection.label and its line."""
    message = refused(tmp_path, "protection:\n  label: foo\n")
    assert "r.yaml:2: protection.label: 'foo' is not a `key=value` label" in message


@pytest.mark.parametrize(
    ("name", "image", "labels", "reason"),
    [
        ("/web", "nginx:1.27", {"responder.protect": "true"}, "label responder.protect=true"),
        ("/falco", "nginx:1.27", {}, "name matches falco*"),
        ("web", "falcosecurity/falco:0.38.1", {}, "image matches falcosecurity/falco"),
        ("web", "nginx:1.27", {"responder.protect": "false"}, None),
    ],
)
def test_protection_reason_checks_label_name_and_image(
    name: str, image: str, labels: dict[str, str], reason: str | None
) -> None:
    """The label, a name glob or an image glob (with or without the tag) protects."""
    protection = Protection(names=("falco*",), images=("falcosecurity/falco",))
    assert protection.reason(name=name, image=image, labels=labels) == reason


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_containments", "0"),
        ("concurrency", "0"),
        ("retries", "-1"),
        ("window", "0s"),
        ("step_timeout", "0"),
    ],
)
def test_limits_out_of_bounds_are_refused_at_their_line(
    tmp_path: Path, key: str, value: str
) -> None:
    """A limit that would stop all containment, or retry negatively, names its field."""
    message = refused(tmp_path, f"limits:\n  {key}: {value}\n")
    assert f"r.yaml:2: limits.{key}:" in message


def test_limits_durations_are_read_as_people_write_them(tmp_path: Path) -> None:
    """`1h` and `500ms` become durations."""
    settings = load_yaml(tmp_path, "limits:\n  window: 1h\n  retry_backoff: 500ms\n")
    assert settings.limits.window == timedelta(hours=1)
    assert settings.limits.retry_backoff == timedelta(milliseconds=500)


def test_retry_backoff_max_below_the_initial_backoff_is_refused(tmp_path: Path) -> None:
    """The cap on the backoff cannot be below where it starts."""
    message = refused(tmp_path, "limits:\n  retry_backoff: 40s\n")
    assert "retry_backoff_max must be at least retry_backoff" in message


def test_incidents_cooldown_and_dry_run_are_read_from_the_file(tmp_path: Path) -> None:
    """The default cooldown and global dry-run come from the `incidents` section."""
    settings = load_yaml(tmp_path, "incidents:\n  cooldown: 30m\n  dry_run: true\n")
    assert settings.incidents == IncidentSettings(cooldown=timedelta(minutes=30), dry_run=True)


def test_dry_run_variable_sets_global_dry_run() -> None:
    """RESPONDER_DRY_RUN turns on dry-run without a file."""
    assert load_settings(None, environ={"RESPONDER_DRY_RUN": "true"}).incidents.dry_run


def test_settings_survive_a_round_trip_through_json(tmp_path: Path) -> None:
    """Dumped settings (durations and priorities as text) load back equal."""
    settings = load_yaml(
        tmp_path,
        """
        channels:
          pager:
            kind: pagerduty
            routing_key: {env: PD}
            min_priority: Error
            severity_map: {Critical: critical}
        limits: {window: 90s}
        """,
    )
    again = Settings.model_validate(settings.model_dump(mode="json"))
    assert again.model_dump() == settings.model_dump()


def test_documented_example_configuration_loads(tmp_path: Path) -> None:
    """The example `responder.yaml` in the docs is valid, with a channel of every kind."""
    # Settings live in docs/configuration.md only (issue 16): the README's example merged there.
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    example = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)[-1]
    settings = load_settings(write(tmp_path / "responder.yaml", example), environ={})
    kinds = {channel.kind for channel in settings.channels.values()}
    assert kinds == {"webhook", "slack", "teams", "pagerduty", "email"}


def test_a_channel_template_with_an_unknown_name_is_refused(tmp_path: Path) -> None:
    """A channel template is checked at load like a playbook's: unknown names are errors."""
    config = tmp_path / "config.yaml"
    config.write_text("channels:\n  oncall: {kind: log, template: '{{ rule }} on {{ host }}'}\n")
    with pytest.raises(ConfigError, match=r"template refers to unknown host, rule"):
        load_settings(config, environ={})


def test_the_release_command_names_the_config_file_and_data_dir(tmp_path: Path) -> None:
    """The command in messages works from any directory: absolute --config and --data-dir."""
    config = tmp_path / "my config.yaml"
    config.write_text("data_dir: state\n")
    settings = load_settings(config, environ={})
    command = settings.release_command("01ABC")
    assert command == (
        f"responder release --config '{config.resolve()}' "
        f"--data-dir {Path('state').resolve()} 01ABC"
    )


def in_a_container(container_id: str, code: str, tmp_path: Path) -> str:
    """What `python -c code` prints in `tmp_path` with /etc/hostname mounted as Docker mounts it.

    Docker bind-mounts /etc/hostname from its `containers/<id>/` directory; here the process
    gets that mount in a mount namespace of its own (`unshare`), nothing else of a container.
    """
    unshare = require_binary("unshare", package="util-linux")
    isolate = [unshare, "--map-root-user", "--mount"]
    if subprocess.run([*isolate, "true"], capture_output=True, check=False).returncode:
        message = "unshare cannot make a mount namespace here (user namespaces are off)"
        if peers_required():
            pytest.fail(f"required here (CI is set): {message}")
        pytest.skip(message)
    hostname = tmp_path / "containers" / container_id / "hostname"
    hostname.parent.mkdir(parents=True)
    hostname.write_text("responder\n")
    mount = 'mount --bind "$1" /etc/hostname && exec "$2" -c "$3"'
    shell = [*isolate, "sh", "-c", mount, "sh", str(hostname), sys.executable, code]
    ran = subprocess.run(shell, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.strip()


def test_in_a_container_the_release_command_runs_there_through_docker_exec(
    tmp_path: Path,
) -> None:
    """Under compose, the paths and the Docker endpoint are the container's, not the host's."""
    container_id = secrets.token_hex(32)
    code = (
        "from responder.settings import load_settings; "
        "print(load_settings(None, environ={}).release_command('01ABC'))"
    )
    command = in_a_container(container_id, code, tmp_path)
    data = (tmp_path / "data").resolve()
    assert command == f"docker exec {container_id[:12]} responder release --data-dir {data} 01ABC"


def test_without_a_config_file_the_release_command_has_only_the_data_dir() -> None:
    """Embedded defaults: nothing to re-read but the data directory."""
    command = load_settings(None, environ={}).release_command("01ABC")
    assert command == f"responder release --data-dir {Path('data').resolve()} 01ABC"
