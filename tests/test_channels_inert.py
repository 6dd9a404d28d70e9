"""Per channel kind: alert text becomes no markup, no mention and no link; our report link stays one.

Regression for issue 15 section 4: Teams rendered `[text](https://...)` from alert text as a
link. Each markup attempt goes into the alert's output, container name and host, and each
channel's payload is read the way that channel reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _hostile import MARKUP
from _links import links
from _messages import REPORT, hostile_facts
from _wire import DELIVERY, log_lines, shown_lines, strings, wire

from responder.notifications.channels import EmailChannel
from responder.notifications.channels.email import build_mail
from responder.notifications.messages import build_message
from responder.text import Templates

if TYPE_CHECKING:
    from responder.notifications.channels import Message

REPORT_LINK = f"<{REPORT.replace('&', '&amp;')}|{REPORT.replace('&', '&amp;')}>"


def markup_message(markup: str) -> Message:
    """An incident message whose output, container name and host all hold `markup`, twice."""
    twice = f"{markup}\n{markup}"
    facts = hostile_facts("event.output", twice)
    context = facts.context
    context["container"] = {**context["container"], "name": twice}
    context["event"] = {**context["event"], "hostname": twice}
    return build_message("incident", facts, Templates(), None)


@pytest.mark.parametrize("markup", MARKUP)
def test_slack_gets_alert_markup_only_as_plain_text(markup: str) -> None:
    """No mrkdwn but our report link: no bold, code, quote, `<url|text>` or `<!channel>`."""
    payload = wire("slack", markup_message(markup))
    assert payload["mrkdwn"] is False
    objects = [block["text"] for block in payload["blocks"] if "text" in block]
    objects += [field for block in payload["blocks"] for field in block.get("fields", [])]
    marked = [o for o in objects if o["type"] != "plain_text"]
    assert marked == [{"type": "mrkdwn", "text": f"*Report*\n{REPORT_LINK}", "verbatim": True}]
    for item in strings(payload):
        assert not {"<", ">"} & set(item.replace(REPORT_LINK, ""))


@pytest.mark.parametrize("markup", MARKUP)
def test_teams_gets_alert_markup_only_in_plain_text_runs(markup: str) -> None:
    """No TextBlock or FactSet (both render Markdown), no date function; the report an action."""
    card = wire("teams", markup_message(markup))["attachments"][0]["content"]
    assert {block["type"] for block in card["body"]} == {"RichTextBlock"}
    runs = [run for block in card["body"] for run in block["inlines"]]
    assert {run["type"] for run in runs} == {"TextRun"}
    assert not any(key in run for run in runs for key in ("selectAction", "url"))
    assert not any("{{DATE(" in run["text"] or "{{TIME(" in run["text"] for run in runs)
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open the incident report", "url": REPORT}
    ]


@pytest.mark.parametrize("markup", MARKUP)
def test_the_mail_is_plain_text_with_a_one_line_subject(markup: str) -> None:
    """One text/plain part, no HTML; the Subject one line; the only link in it is the report."""
    channel = EmailChannel(host="mail.example", sender="r@x.example", recipients=("o@x.example",))
    mail = build_mail(markup_message(markup), DELIVERY, channel)
    assert [part.get_content_type() for part in mail.walk()] == ["text/plain"]
    assert mail["Subject"].splitlines() == [mail["Subject"]]
    assert links(mail.get_content()) == [REPORT, REPORT]  # the text's `Report:` and the fact


@pytest.mark.parametrize("kind", ["webhook", "pagerduty", "slack", "teams", "email", "log"])
@pytest.mark.parametrize("markup", MARKUP)
def test_no_channel_shows_a_link_but_our_report(kind: str, markup: str) -> None:
    """Links and mail addresses in the alert are defanged in every channel's text."""
    lines = shown_lines(kind, markup_message(markup))
    assert {url for line in lines for url in links(line)} == {REPORT}


@pytest.mark.parametrize("kind", ["webhook", "pagerduty"])
@pytest.mark.parametrize("markup", MARKUP)
def test_every_json_field_but_the_text_is_one_line(kind: str, markup: str) -> None:
    """PagerDuty's summary, source, component, class and details, the webhook's fields: one line."""
    payload = wire(kind, markup_message(markup))
    text = (
        payload["message"]["text"]
        if kind == "webhook"
        else payload["payload"]["custom_details"]["text"]
    )
    for item in strings(payload):
        assert item == text or item.splitlines() == [item]


def test_our_report_link_is_a_link_in_every_channel() -> None:
    """Slack links it, Teams has it as its action, PagerDuty in `links`, mail and log in full."""
    message = markup_message("x")
    assert {"type": "mrkdwn", "text": f"*Report*\n{REPORT_LINK}", "verbatim": True} in wire(
        "slack", message
    )["blocks"][2]["fields"]
    assert wire("teams", message)["attachments"][0]["content"]["actions"][0]["url"] == REPORT
    assert wire("pagerduty", message)["links"] == [{"href": REPORT, "text": "Incident report"}]
    assert wire("webhook", message)["message"]["report"] == REPORT
    assert f"Report: {REPORT}" in wire("email", message)["body"].splitlines()
    assert any(line.endswith(f"| Report: {REPORT}") for line in log_lines(message))
