"""The HTTP notifiers against a real local server standing in for Slack, Teams, PagerDuty and hooks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from _messages import hostile_facts, message
from _peers import free_port
from aiohttp import web

from responder import __version__
from responder.errors import PermanentError, TransientError
from responder.journal import Priority
from responder.notifications.channels import (
    CHANNEL_KINDS,
    NOTIFIER_KINDS,
    Delivery,
    DeliveryDeferredError,
    LogChannel,
    PagerDutyChannel,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
    build_notifiers,
)
from responder.notifications.channels.log import LogNotifier
from responder.notifications.channels.pagerduty import PagerDutyNotifier
from responder.notifications.channels.slack import SlackNotifier
from responder.notifications.channels.teams import TeamsNotifier
from responder.notifications.channels.webhook import WebhookNotifier
from responder.notifications.messages import build_message
from responder.secrets import SecretRef
from responder.text import Templates

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from pytest_aiohttp import AiohttpServer

DELIVERY = Delivery(id=42, attempt=1, incident_id="01JD0ABC")
TOKEN_PATH = "/services/T000/B000/XXXXsecrettokenXXXX"


@dataclass
class FarEnd:
    """A real HTTP server that records each request and answers as the test says."""

    url: str = ""
    status: int = 200
    text: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        """Record, wait if asked, answer."""
        self.received.append((request.path, dict(request.headers), await request.read()))
        await asyncio.sleep(self.delay)
        return web.Response(status=self.status, text=self.text, headers=self.headers)

    def body(self) -> Any:
        """The one request's body as JSON."""
        [(_, _, raw)] = self.received
        return json.loads(raw)

    def request_headers(self) -> dict[str, str]:
        """The one request's headers."""
        [(_, headers, _)] = self.received
        return headers


@pytest.fixture
async def far_end(aiohttp_server: AiohttpServer) -> FarEnd:
    """The far end, listening on 127.0.0.1."""
    end = FarEnd()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", end.handle)
    server = await aiohttp_server(app)
    end.url = str(server.make_url(TOKEN_PATH))
    return end


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session, as the outbox holds one."""
    async with aiohttp.ClientSession() as client:
        yield client


def slack(far_end: FarEnd, **changes: Any) -> SlackNotifier:
    """A Slack notifier whose webhook URL is in SLACK_URL."""
    channel = SlackChannel(webhook_url=SecretRef(env="SLACK_URL"), **changes)
    return SlackNotifier("ops-slack", channel, {"SLACK_URL": far_end.url})


def webhook(url: str, **changes: Any) -> WebhookNotifier:
    """A webhook notifier posting to `url`."""
    return WebhookNotifier("hook", WebhookChannel(url=url, **changes), {})


async def test_webhook_posts_the_documented_json_and_headers(
    far_end: FarEnd, session: aiohttp.ClientSession
) -> None:
    """The body is version, kind, delivery, channel and the whole message; headers as documented."""
    msg = message()
    notifier = WebhookNotifier(
        "hook",
        WebhookChannel(
            url=far_end.url,
            headers={"X-Env": "prod"},
            secret_headers={"X-Api-Key": SecretRef(env="HOOK_KEY")},
        ),
        {"HOOK_KEY": "k-123"},
    )
    assert await notifier.send(msg, DELIVERY, session) == "HTTP 200"
    assert far_end.body() == {
        "version": 1,
        "kind": "incident",
        "delivery": "responder-01JD0ABC-42",
        "channel": "hook",
        "message": msg.model_dump(mode="json"),
    }
    headers = far_end.request_headers()
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == f"responder/{__version__}"
    assert headers["X-Responder-Delivery"] == "responder-01JD0ABC-42"
    assert (headers["X-Env"], headers["X-Api-Key"]) == ("prod", "k-123")
    assert "X-Responder-Signature" not in headers


async def test_webhook_signature_is_the_hmac_of_the_exact_body(
    far_end: FarEnd, session: aiohttp.ClientSession
) -> None:
    """`sha256=<hex>` in the configured header matches an HMAC computed here over the bytes received."""
    channel = WebhookChannel(
        url=far_end.url, hmac_secret=SecretRef(env="HOOK_HMAC"), hmac_header="X-Sig"
    )
    await WebhookNotifier("hook", channel, {"HOOK_HMAC": "shh"}).send(message(), DELIVERY, session)
    [(_, headers, raw)] = far_end.received
    expected = hmac.new(b"shh", raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Sig"], f"sha256={expected}")


async def test_webhook_url_by_reference_stays_out_of_errors(
    far_end: FarEnd, session: aiohttp.ClientSession
) -> None:
    """A 400 names the channel and the answer; the secret URL and header are cut even when echoed."""
    far_end.status = 400
    far_end.text = f"bad request to {far_end.url} with key k-123"
    channel = WebhookChannel(
        url_secret=SecretRef(env="HOOK_URL"), secret_headers={"X-Api-Key": SecretRef(env="KEY")}
    )
    notifier = WebhookNotifier("hook", channel, {"HOOK_URL": far_end.url, "KEY": "k-123"})
    with pytest.raises(PermanentError) as caught:
        await notifier.send(message(), DELIVERY, session)
    assert str(caught.value).startswith("hook: HTTP 400: bad request to [redacted]")
    assert "secrettoken" not in str(caught.value)
    assert "k-123" not in str(caught.value)


async def test_slack_gets_blocks_with_escaped_text_and_facts(
    far_end: FarEnd, session: aiohttp.ClientSession
) -> None:
    """Header, text and fields blocks, all plain text; `&`, `<`, `>` become entities; channel kept."""
    msg = message(
        title="Shell <script> & more",
        text="ran `sh -c 'a > b'` <@U123>",
        image=None,
        report=None,
        release_command=None,
    )
    notifier = slack(far_end, channel="#security", username="responder")
    assert await notifier.send(msg, DELIVERY, session) == "HTTP 200"

    def plain(text: str) -> dict[str, Any]:
        return {"type": "plain_text", "text": text, "emoji": False}

    assert far_end.body() == {
        "text": "Shell &lt;script&gt; &amp; more",
        "mrkdwn": False,
        "blocks": [
            {"type": "header", "text": plain("Shell &lt;script&gt; &amp; more")},
            {"type": "section", "text": plain("ran `sh -c 'a &gt; b'` &lt;@U123&gt;")},
            {
                "type": "section",
                "fields": [
                    plain("State: contained"),
                    plain("Event: Critical: Terminal shell in container (falco)"),
                    plain("Host: host-a"),
                    plain("Container: web-1"),
                    plain("Playbook: contain-shell"),
                    plain("Events: 3"),
                ],
            },
        ],
        "channel": "#security",
        "username": "responder",
    }


async def test_slack_clips_to_block_kit_limits_without_splitting_an_entity(
    far_end: FarEnd, session: aiohttp.ClientSession
) -> None:
    """A 150-character header and 3000-character section, ending in an ellipsis, never in `&am`."""
    msg = message(title="x" * 147 + "&&&&", text="y" * 2996 + "&" * 10)
    await slack(far_end).send(msg, DELIVERY, session)
    header, section, _ = far_end.body()["blocks"]
    assert header["text"]["text"] == "x" * 147 + "…"
    assert section["text"]["text"] == "y" * 2996 + "…"


async def test_slack_refusal_is_permanent_and_keeps_slack_reason(
    far_end: FarEnd, session: aiohttp.ClientSession
) -> None:
    """Slack's 410 `channel_is_archived` is not retried, and the message says why."""
    far_end.status = 410
    far_end.text = "channel_is_archived"
    with pytest.raises(PermanentError, match=r"^ops-slack: HTTP 410: channel_is_archived$"):
        await slack(far_end).send(message(), DELIVERY, session)


async def test_teams_gets_an_adaptive_card(far_end: FarEnd, session: aiohttp.ClientSession) -> None:
    """One Adaptive Card 1.4: title, each line of text and each fact as plain TextRuns."""
    far_end.status = 202
    msg = message(
        text="Critical: Terminal shell in container\n\nDone:\n  1. docker:pause: paused\n"
    )
    notifier = TeamsNotifier(
        "teams", TeamsChannel(webhook_url=SecretRef(env="TEAMS_URL")), {"TEAMS_URL": far_end.url}
    )
    assert await notifier.send(msg, DELIVERY, session) == "HTTP 202"

    def line(*runs: dict[str, Any], spacing: str = "none") -> dict[str, Any]:
        return {"type": "RichTextBlock", "inlines": list(runs), "spacing": spacing}

    def run(text: str, **style: str) -> dict[str, Any]:
        return {"type": "TextRun", "text": text, **style}

    facts = [line(run(f"{k}: ", weight="bolder"), run(v)) for k, v in msg.facts()]
    facts[0]["spacing"] = "medium"
    assert far_end.body() == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        line(run(msg.title, weight="bolder", size="medium"), spacing="default"),
                        line(run("Critical: Terminal shell in container"), spacing="medium"),
                        line(run("Done:"), spacing="medium"),
                        line(run("  1. docker:pause: paused")),
                        *facts,
                    ],
                },
            }
        ],
    }


async def test_teams_shows_a_markdown_link_from_the_alert_as_text(
    far_end: FarEnd, session: aiohttp.ClientSession
) -> None:
    """Regression (issue 15): Teams rendered `[text](https://...)` in the alert as a link."""
    facts = hostile_facts("event.output", "see [the runbook](https://evil.example/login)")
    msg = build_message("incident", facts, Templates(), None)
    notifier = TeamsNotifier(
        "teams", TeamsChannel(webhook_url=SecretRef(env="TEAMS_URL")), {"TEAMS_URL": far_end.url}
    )
    await notifier.send(msg, DELIVERY, session)
    card = far_end.body()["attachments"][0]["content"]
    runs = [run["text"] for block in card["body"] for run in block["inlines"]]
    assert "> see [the runbook](https[://]evil.example/login)" in runs
    assert {block["type"] for block in card["body"]} == {"RichTextBlock"}  # no Markdown


def pagerduty(far_end: FarEnd, **changes: Any) -> PagerDutyNotifier:
    """A PagerDuty notifier whose routing key is in PD_KEY."""
    channel = PagerDutyChannel(routing_key=SecretRef(env="PD_KEY"), url=far_end.url, **changes)
    return PagerDutyNotifier("pager", channel, {"PD_KEY": "R0UTINGKEY"})


async def test_pagerduty_triggers_an_incident_with_its_dedup_key(
    far_end: FarEnd, session: aiohttp.ClientSession
) -> None:
    """An incident is a `trigger` event with the routing key, severity from the map, and details."""
    far_end.status = 202
    msg = message(incident_id="01JD0ABC", report="https://responder.example/r/01JD0ABC")
    notifier = pagerduty(far_end, severity_map={Priority.CRITICAL: "error"})
    detail = await notifier.send(msg, DELIVERY, session)
    assert detail == "HTTP 202 (incident, dedup_key responder-01JD0ABC)"
    assert far_end.body() == {
        "routing_key": "R0UTINGKEY",
        "dedup_key": "responder-01JD0ABC",
        "event_action": "trigger",
        "payload": {
            "summary": msg.title,
            "source": "host-a",
            "severity": "error",
            "timestamp": "2026-11-24T03:12:45.123456+00:00",
            "component": "web-1",
            "group": "contain-shell",
            "class": "Terminal shell in container",
            "custom_details": {
                "incident_id": "01JD0ABC",
                "state": "contained",
                "dry_run": False,
                "priority": "Critical",
                "event_source": "falco",
                "event_count": 3,
                "container_id": "0123456789ab",
                "image": "registry.local/web:1.4",
                "steps": [{"action": "docker:pause", "status": "done", "detail": "paused"}],
                "report": "https://responder.example/r/01JD0ABC",
                "release_command": "responder release X",
                "text": msg.text,
            },
        },
        "client": "responder",
        "links": [{"href": "https://responder.example/r/01JD0ABC", "text": "Incident report"}],
    }


async def test_pagerduty_resolves_on_release(
    far_end: FarEnd, session: aiohttp.ClientSession
) -> None:
    """A release is a `resolve` with the same dedup key and nothing else."""
    far_end.status = 202
    msg = message(incident_id="01JD0ABC", kind="release", state="released")
    await pagerduty(far_end).send(msg, DELIVERY, session)
    assert far_end.body() == {
        "routing_key": "R0UTINGKEY",
        "dedup_key": "responder-01JD0ABC",
        "event_action": "resolve",
    }


async def test_pagerduty_keeps_the_alert_open_after_a_partial_release(
    far_end: FarEnd, session: aiohttp.ClientSession
) -> None:
    """Containment that could not all be undone is no resolution: it triggers again, updated."""
    far_end.status = 202
    msg = message(incident_id="01JD0ABC", kind="release", state="partially released")
    await pagerduty(far_end).send(msg, DELIVERY, session)
    body = far_end.body()
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "responder-01JD0ABC"
    assert body["payload"]["custom_details"]["state"] == "partially released"


async def test_pagerduty_bad_request_is_permanent_without_the_key(
    far_end: FarEnd, session: aiohttp.ClientSession
) -> None:
    """PagerDuty's 400 JSON error is quoted; the routing key is not, even if echoed."""
    far_end.status = 400
    far_end.text = '{"status":"invalid event","errors":["bad routing_key R0UTINGKEY"]}'
    with pytest.raises(PermanentError) as caught:
        await pagerduty(far_end).send(message(), DELIVERY, session)
    assert "invalid event" in str(caught.value)
    assert "R0UTINGKEY" not in str(caught.value)


async def test_429_with_retry_after_defers_the_delivery(
    far_end: FarEnd, session: aiohttp.ClientSession
) -> None:
    """Too Many Requests with `Retry-After: 7` is DeliveryDeferredError with retry_after 7."""
    far_end.status = 429
    far_end.headers = {"Retry-After": "7"}
    with pytest.raises(DeliveryDeferredError) as caught:
        await slack(far_end).send(message(), DELIVERY, session)
    assert caught.value.retry_after == 7.0


async def test_503_with_a_past_http_date_defers_with_no_wait(
    far_end: FarEnd, session: aiohttp.ClientSession
) -> None:
    """`Retry-After` as an HTTP date is read too; one in the past means now."""
    far_end.status = 503
    far_end.headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    with pytest.raises(DeliveryDeferredError) as caught:
        await webhook(far_end.url).send(message(), DELIVERY, session)
    assert caught.value.retry_after == 0.0


async def test_server_error_is_transient(far_end: FarEnd, session: aiohttp.ClientSession) -> None:
    """A 500 without `Retry-After` is retried, not deferred."""
    far_end.status = 500
    far_end.text = "boom"
    with pytest.raises(TransientError, match=r"^hook: HTTP 500: boom$") as caught:
        await webhook(far_end.url).send(message(), DELIVERY, session)
    assert not isinstance(caught.value, DeliveryDeferredError)


async def test_client_error_is_permanent(far_end: FarEnd, session: aiohttp.ClientSession) -> None:
    """A 400 is not retried."""
    far_end.status = 400
    with pytest.raises(PermanentError, match=r"^hook: HTTP 400: ok$"):
        await webhook(far_end.url).send(message(), DELIVERY, session)


async def test_redirect_is_not_followed(far_end: FarEnd, session: aiohttp.ClientSession) -> None:
    """A 302 is a wrong URL: not followed, not retried."""
    far_end.status = 302
    far_end.headers = {"Location": "http://127.0.0.1:1/elsewhere"}
    with pytest.raises(PermanentError, match="redirects are not followed"):
        await webhook(far_end.url).send(message(), DELIVERY, session)
    assert len(far_end.received) == 1


async def test_slow_far_end_is_transient(far_end: FarEnd, session: aiohttp.ClientSession) -> None:
    """No answer within the channel's timeout is retried later."""
    far_end.delay = 2.0
    with pytest.raises(TransientError, match=r"^hook: no answer within 0.2s$"):
        await webhook(far_end.url, timeout=timedelta(milliseconds=200)).send(
            message(), DELIVERY, session
        )


async def test_connection_refused_is_transient(session: aiohttp.ClientSession) -> None:
    """Nobody listening is retried, and the error keeps the secret URL out."""
    url = f"http://127.0.0.1:{free_port()}{TOKEN_PATH}"
    notifier = SlackNotifier(
        "ops-slack", SlackChannel(webhook_url=SecretRef(env="SLACK_URL")), {"SLACK_URL": url}
    )
    with pytest.raises(TransientError) as caught:
        await notifier.send(message(), DELIVERY, session)
    assert str(caught.value).startswith("ops-slack: ClientConnectorError")
    assert "secrettoken" not in str(caught.value)


@pytest.mark.parametrize(
    ("notifier", "where"),
    [
        (
            SlackNotifier("s", SlackChannel(webhook_url=SecretRef(env="MISSING")), {}),
            "environment variable MISSING: is not set",
        ),
        (
            PagerDutyNotifier("p", PagerDutyChannel(routing_key=SecretRef(env="MISSING")), {}),
            "environment variable MISSING: is not set",
        ),
        (
            WebhookNotifier(
                "w", WebhookChannel(url_secret=SecretRef(env="BAD")), {"BAD": "not-a-url"}
            ),
            "environment variable BAD: must be an absolute http:// or https:// URL",
        ),
        (
            SlackNotifier(
                "s", SlackChannel(webhook_url=SecretRef(env="BAD")), {"BAD": "not-a-url"}
            ),
            "environment variable BAD: must be an absolute http:// or https:// URL",
        ),
    ],
)
async def test_unreadable_secret_is_permanent_and_named_by_reference(
    notifier: SlackNotifier | PagerDutyNotifier | WebhookNotifier,
    where: str,
    session: aiohttp.ClientSession,
) -> None:
    """A secret that is missing or not a URL fails at once, naming the reference, not the value."""
    with pytest.raises(PermanentError) as caught:
        await notifier.send(message(), DELIVERY, session)
    assert str(caught.value) == where
    assert "not-a-url" not in str(caught.value)


async def test_log_channel_logs_title_and_text_at_warning(
    caplog: pytest.LogCaptureFixture, session: aiohttp.ClientSession
) -> None:
    """The log channel writes to `responder.notify`, a record for the title and one per line."""
    msg = message()
    with caplog.at_level(logging.WARNING, logger="responder.notify"):
        assert await LogNotifier("oncall", LogChannel()).send(msg, DELIVERY, session) == "logged"
    assert {record.levelno for record in caplog.records} == {logging.WARNING}
    assert [record.getMessage() for record in caplog.records] == [
        f"oncall (responder-01JD0ABC-42, incident): {msg.title}",
        "oncall (responder-01JD0ABC-42) | Critical: Terminal shell in container",
        "oncall (responder-01JD0ABC-42) | Done:",
        "oncall (responder-01JD0ABC-42) |   1. docker:pause: paused",
    ]


def test_describe_shows_secrets_by_reference_and_whether_they_are_set() -> None:
    """`describe` says where each secret comes from and if it is readable, never its value."""
    channel = WebhookChannel(
        url_secret=SecretRef(env="HOOK_URL"),
        secret_headers={"X-Api-Key": SecretRef(env="HOOK_KEY")},
        hmac_secret=SecretRef(env="HOOK_HMAC"),
    )
    described = WebhookNotifier("hook", channel, {"HOOK_URL": "https://h/secret-path"}).describe()
    assert described == {
        "timeout": "10s",
        "url_secret": "environment variable HOOK_URL (set)",
        "secret_headers": "X-Api-Key: environment variable HOOK_KEY (not set)",
        "hmac_secret": "environment variable HOOK_HMAC (not set)",
        "hmac_header": "X-Responder-Signature",
    }


def test_every_channel_kind_has_a_notifier() -> None:
    """The registry covers each kind the configuration accepts, and builds one per channel."""
    assert tuple(NOTIFIER_KINDS) == CHANNEL_KINDS
    built = build_notifiers({"oncall": LogChannel(), "hook": WebhookChannel(url="https://h/x")})
    assert {name: type(n) for name, n in built.items()} == {
        "oncall": LogNotifier,
        "hook": WebhookNotifier,
    }
