"""The email notifier against a real aiosmtpd server: plain, STARTTLS with login, implicit TLS."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import aiohttp
import pydantic
import pytest
import trustme
from _messages import message
from _peers import free_port
from _smtp import Inbox
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from responder.errors import PermanentError, TransientError
from responder.notifications.channels import Delivery, EmailChannel
from responder.notifications.channels.email import EmailNotifier
from responder.secrets import SecretRef

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from pathlib import Path

DELIVERY = Delivery(id=7, attempt=2, incident_id="01JD0ABC")
SENDER = "responder@example.org"
RECIPIENTS = ("oncall@example.org", "security@example.org")


def check_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """An aiosmtpd authenticator: only alerts / pw-1234 may log in."""
    del server, session, envelope, mechanism
    ok = auth_data == LoginPassword(b"alerts", b"pw-1234")
    return AuthResult(success=ok, handled=False)


@dataclass
class Pki:
    """A throwaway CA, its PEM file, and a server context with a certificate for 127.0.0.1."""

    ca_file: Path
    server_context: ssl.SSLContext


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates made with trustme for this module."""
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("pki") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return Pki(ca_file, context)


StartServer: TypeAlias = "Callable[..., tuple[Inbox, int]]"
"""Start aiosmtpd with Controller options; returns its inbox and port."""


@pytest.fixture
def smtp_server() -> Iterator[StartServer]:
    """Start aiosmtpd on a free port with the given Controller options; stopped after the test."""
    started: list[Controller] = []

    def start(**options: Any) -> tuple[Inbox, int]:
        inbox = Inbox()
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
        started.append(controller)
        return inbox, port

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """The outbox's session; email does not use it, but the interface passes it."""
    async with aiohttp.ClientSession() as client:
        yield client


def notifier(port: int, environ: dict[str, str] | None = None, **changes: Any) -> EmailNotifier:
    """An email notifier for 127.0.0.1:`port`, without TLS unless `changes` say otherwise."""
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": SENDER,
        "recipients": RECIPIENTS,
        "timeout": "5s",
    }
    return EmailNotifier("mail", EmailChannel.model_validate(settings | changes), environ or {})


async def test_plain_mail_has_stable_headers_and_the_facts(
    smtp_server: StartServer, session: aiohttp.ClientSession
) -> None:
    """Subject, From, To, a Message-ID built from the delivery key, and text then facts as body."""
    inbox, port = smtp_server()
    msg = message(incident_id="01JD0ABC")
    detail = await notifier(port).send(msg, DELIVERY, session)
    assert detail == "250 accepted for 2 recipient(s)"
    [mail] = inbox.mails
    assert mail["Subject"] == msg.title
    assert mail["From"] == SENDER
    assert mail["To"] == ", ".join(RECIPIENTS)
    assert mail["Message-ID"] == "<responder-01JD0ABC-7@responder>"
    assert mail["X-Responder-Incident"] == "01JD0ABC"
    assert mail["Auto-Submitted"] == "auto-generated"
    body = mail.get_content().replace("\r\n", "\n")  # as it came off the wire
    assert body.startswith(msg.text.rstrip() + "\n\n")
    assert "Container: web-1\n" in body
    assert "Release:   responder release X\n" in body
    assert inbox.sessions == [(False, False)]


async def test_subject_loses_line_breaks(
    smtp_server: StartServer, session: aiohttp.ClientSession
) -> None:
    r"""A title with a line break cannot inject a header: it stays one line, the break shown as `\n`."""
    inbox, port = smtp_server()
    await notifier(port).send(message(title="one\nBcc: x@evil.example"), DELIVERY, session)
    [mail] = inbox.mails
    assert mail["Subject"] == "one\\nBcc: x@evil.example"
    assert mail["Bcc"] is None


async def test_starttls_with_login(
    smtp_server: StartServer, pki: Pki, session: aiohttp.ClientSession
) -> None:
    """STARTTLS against a private CA, then AUTH, which the server only offers over TLS."""
    inbox, port = smtp_server(
        tls_context=pki.server_context,
        require_starttls=True,
        authenticator=check_login,
        auth_require_tls=True,
    )
    mailer = notifier(
        port,
        {"SMTP_PASSWORD": "pw-1234"},
        security="starttls",
        ca_file=pki.ca_file,
        username="alerts",
        password={"env": "SMTP_PASSWORD"},
    )
    assert await mailer.send(message(), DELIVERY, session) == "250 accepted for 2 recipient(s)"
    assert inbox.sessions == [(True, True)]


async def test_implicit_tls(
    smtp_server: StartServer, pki: Pki, session: aiohttp.ClientSession
) -> None:
    """security: tls speaks TLS from the first byte, as on port 465."""
    inbox, port = smtp_server(ssl_context=pki.server_context)
    mailer = notifier(port, security="tls", ca_file=pki.ca_file)
    assert await mailer.send(message(), DELIVERY, session) == "250 accepted for 2 recipient(s)"
    assert len(inbox.mails) == 1


async def test_wrong_password_is_permanent_and_not_quoted(
    smtp_server: StartServer, pki: Pki, session: aiohttp.ClientSession
) -> None:
    """A refused login (535) is not retried, and the error does not contain the password."""
    _, port = smtp_server(tls_context=pki.server_context, authenticator=check_login)
    mailer = notifier(
        port,
        {"SMTP_PASSWORD": "wrong-pw"},
        security="starttls",
        ca_file=pki.ca_file,
        username="alerts",
        password={"env": "SMTP_PASSWORD"},
    )
    with pytest.raises(PermanentError, match="login as alerts refused: 535") as caught:
        await mailer.send(message(), DELIVERY, session)
    assert "wrong-pw" not in str(caught.value)


async def test_server_without_starttls_is_permanent(
    smtp_server: StartServer, pki: Pki, session: aiohttp.ClientSession
) -> None:
    """security: starttls never falls back to plain text when the server does not offer it."""
    inbox, port = smtp_server()
    mailer = notifier(port, security="starttls", ca_file=pki.ca_file)
    with pytest.raises(PermanentError, match="STARTTLS"):
        await mailer.send(message(), DELIVERY, session)
    assert inbox.mails == []


async def test_rejected_data_5xx_is_permanent(
    smtp_server: StartServer, session: aiohttp.ClientSession
) -> None:
    """A 554 at DATA is not retried; the server's words are kept."""
    inbox, port = smtp_server()
    inbox.data_answer = "554 5.7.1 Message rejected as spam"
    with pytest.raises(
        PermanentError, match=r"^mail: SMTP 127.0.0.1:\d+: 554 5.7.1 Message rejected"
    ):
        await notifier(port).send(message(), DELIVERY, session)


async def test_deferred_data_4xx_is_transient(
    smtp_server: StartServer, session: aiohttp.ClientSession
) -> None:
    """A 451 at DATA is retried later."""
    inbox, port = smtp_server()
    inbox.data_answer = "451 4.3.0 Try again later"
    with pytest.raises(TransientError, match=r"451 4\.3\.0 Try again later"):
        await notifier(port).send(message(), DELIVERY, session)


async def test_the_timeout_bounds_the_whole_exchange_and_nothing_is_sent_after_it(
    smtp_server: StartServer, session: aiohttp.ClientSession
) -> None:
    """Regression: a server slow at every command held the mail thread past the timeout.

    The timeout applied to each command; the outbox gave the attempt up while the thread went
    on and sent the mail, and the retry sent it again. Each RCPT answers within the 1 s
    timeout, the two together do not: the exchange stops at the deadline, before DATA, so
    the server never gets the mail from this attempt.
    """
    inbox, port = smtp_server()
    inbox.rcpt_delay = 0.7
    with pytest.raises(TransientError, match=r"the SMTP exchange took longer than 1 s"):
        await notifier(port, timeout="1s").send(message(), DELIVERY, session)
    await asyncio.sleep(2 * inbox.rcpt_delay)  # as long as the server takes to answer both
    assert inbox.mails == []


async def test_every_recipient_refused_with_550_is_permanent(
    smtp_server: StartServer, session: aiohttp.ClientSession
) -> None:
    """When the server refuses each recipient for good, nothing was sent and nothing will be."""
    inbox, port = smtp_server()
    inbox.refuse = dict.fromkeys(RECIPIENTS, "550 5.1.1 No such user")
    with pytest.raises(PermanentError, match="every recipient refused"):
        await notifier(port).send(message(), DELIVERY, session)


async def test_greylisted_recipients_are_transient(
    smtp_server: StartServer, session: aiohttp.ClientSession
) -> None:
    """450/451 on every recipient is greylisting: retried, not given up."""
    inbox, port = smtp_server()
    inbox.refuse = dict.fromkeys(RECIPIENTS, "451 4.7.1 Greylisted, try again")
    with pytest.raises(TransientError, match="Greylisted"):
        await notifier(port).send(message(), DELIVERY, session)


async def test_one_refused_recipient_is_recorded_not_retried(
    smtp_server: StartServer, session: aiohttp.ClientSession
) -> None:
    """A partial delivery succeeds with the refusal in the detail: a retry would send twice."""
    inbox, port = smtp_server()
    inbox.refuse = {RECIPIENTS[1]: "550 5.1.1 No such user"}
    detail = await notifier(port).send(message(), DELIVERY, session)
    assert detail == f"250 accepted for 1 recipient(s); refused: {RECIPIENTS[1]} (550)"
    assert len(inbox.mails) == 1


async def test_server_down_is_transient(session: aiohttp.ClientSession) -> None:
    """Nobody listening is retried later."""
    with pytest.raises(TransientError, match="ConnectionRefusedError"):
        await notifier(free_port()).send(message(), DELIVERY, session)


async def test_unreadable_password_is_permanent(session: aiohttp.ClientSession) -> None:
    """A password that is not set fails before connecting, naming the variable."""
    mailer = notifier(free_port(), username="alerts", password={"env": "SMTP_PASSWORD"})
    with pytest.raises(PermanentError, match=r"^environment variable SMTP_PASSWORD: is not set$"):
        await mailer.send(message(), DELIVERY, session)


async def test_missing_ca_file_is_permanent(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    """A ca_file that cannot be read is a configuration fault, not a moment's."""
    mailer = notifier(free_port(), security="tls", ca_file=tmp_path / "nope.pem")
    with pytest.raises(PermanentError, match=r"nope\.pem"):
        await mailer.send(message(), DELIVERY, session)


def test_ca_file_without_tls_is_refused_at_load(tmp_path: Path) -> None:
    """A CA for a connection that never uses TLS is a mistake the model reports."""
    with pytest.raises(pydantic.ValidationError, match="ca_file needs security starttls or tls"):
        notifier(25, security="none", ca_file=tmp_path / "ca.pem")


def test_describe_shows_the_password_by_reference() -> None:
    """The password appears as its reference and whether it is set, never as its value."""
    described = notifier(
        587,
        {"SMTP_PASSWORD": "pw-1234"},
        username="alerts",
        password=SecretRef(env="SMTP_PASSWORD"),
    ).describe()
    assert described["password"] == "environment variable SMTP_PASSWORD (set)"
    assert described["recipients"] == ", ".join(RECIPIENTS)
    assert "pw-1234" not in str(described)
