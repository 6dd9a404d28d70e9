"""The `email` channel: a plain-text mail over SMTP, sent from a thread (smtplib blocks)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from responder.errors import ConfigError, PermanentError, ResponderError, TransientError
from responder.notifications.channels._base import Notifier
from responder.notifications.channels._channel import ChannelSettings
from responder.notifications.channels._describe import describe_channel
from responder.notifications.channels._fields import EmailAddress
from responder.secrets import SecretRef

if TYPE_CHECKING:
    import aiohttp

    from responder.notifications.channels._base import Delivery
    from responder.notifications.channels._message import Message

__all__ = ["EmailChannel", "EmailNotifier", "build_mail", "mail_text"]


class EmailChannel(ChannelSettings):
    """Email over SMTP with STARTTLS, implicit TLS or (on a trusted network) neither."""

    kind: Literal["email"] = "email"
    host: str = Field(min_length=1, description="SMTP server")
    port: int = Field(default=587, ge=1, le=65535, description="587; 465 when security is tls")
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls, tls (implicit, port 465) or none"
    )
    username: str | None = Field(default=None, min_length=1, description="SMTP login")
    password: SecretRef | None = Field(default=None, description="SMTP password, by reference")
    sender: EmailAddress = Field(description="the From address")
    recipients: tuple[EmailAddress, ...] = Field(min_length=1, description="the To addresses")
    ca_file: Path | None = Field(
        default=None, description="PEM bundle to trust instead of the system CAs (internal CA)"
    )

    @model_validator(mode="before")
    @classmethod
    def _tls_port(cls, data: Any) -> Any:  # noqa: ANN401 - validators see raw YAML
        if isinstance(data, dict) and "port" not in data and data.get("security") == "tls":
            return {**data, "port": 465}
        return data

    @model_validator(mode="after")
    def _login_and_tls(self) -> EmailChannel:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        if self.ca_file is not None and self.security == "none":
            raise ValueError("ca_file needs security starttls or tls")
        return self


_TRANSIENT_CLASS = 4  # SMTP 4xx: try again later; 5xx: do not


def mail_text(message: Message) -> str:
    """The body: the rendered text, then the facts as aligned `Label: value` lines."""
    facts = message.facts()
    width = max(len(label) for label, _ in facts) + 1
    rows = "\n".join(f"{label + ':':<{width}} {value}" for label, value in facts)
    return f"{message.text.rstrip()}\n\n{rows}\n"


def build_mail(message: Message, delivery: Delivery, channel: EmailChannel) -> EmailMessage:
    """The mail; its Message-ID is stable across retries, so a repeat is recognisable."""
    mail = EmailMessage()
    mail["Subject"] = " ".join(message.title.split())  # a header cannot hold a line break
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.recipients)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = f"<{delivery.key}@responder>"
    mail["X-Responder-Incident"] = message.incident_id
    mail["X-Responder-Delivery"] = delivery.key
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies stay quiet
    mail.set_content(mail_text(message))
    return mail


class EmailNotifier(Notifier[EmailChannel]):
    """Send through the channel's SMTP server with STARTTLS, implicit TLS, or neither.

    The channel's timeout bounds the whole conversation, from connecting to the last reply: a
    server slow at every command cannot stretch it, and when it runs out the thread stops
    talking instead of sending the mail after the attempt was given up (which the retry would
    then send again). A 4xx answer (greylisting, a full queue) is retried; a 5xx answer, a
    refused login or a missing STARTTLS is not.
    """

    kind: ClassVar[str] = "email"

    async def send(
        self, message: Message, delivery: Delivery, session: aiohttp.ClientSession
    ) -> str:
        """Send one mail; the detail says how many recipients the server accepted."""
        del session
        password = None
        if self.channel.password is not None:
            password = self.channel.password.resolve(self._environ).get_secret_value()
        context = self._tls_context()
        mail = build_mail(message, delivery, self.channel)
        # The deadline starts now: time spent waiting for a thread counts against it.
        deadline = time.monotonic() + self.channel.timeout.total_seconds()
        try:
            return await asyncio.to_thread(self._deliver, mail, password, context, deadline)
        except OSError as exc:  # smtplib's errors are OSErrors too
            kind, problem = self._classify(exc)
            if password:  # no server should quote it back, but a log must never show it
                problem = problem.replace(password, "[redacted]")
            raise kind(problem) from None

    def _tls_context(self) -> ssl.SSLContext | None:
        """Verification against the system CAs, or only `ca_file` when it is given."""
        if self.channel.security == "none":
            return None
        try:
            return ssl.create_default_context(cafile=self.channel.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"ca_file {self.channel.ca_file}: {exc}") from None

    def _deliver(
        self,
        mail: EmailMessage,
        password: str | None,
        context: ssl.SSLContext | None,
        deadline: float,
    ) -> str:
        """The blocking part, run in a worker thread."""
        channel = self.channel
        timeout = channel.timeout.total_seconds()
        client: smtplib.SMTP
        if channel.security == "tls":
            client = _DeadlineSMTPSSL(
                channel.host, channel.port, timeout=timeout, context=context, deadline=deadline
            )
        else:
            client = _DeadlineSMTP(channel.host, channel.port, timeout=timeout, deadline=deadline)
        try:
            if channel.security == "starttls":
                client.starttls(context=context)
            if channel.username is not None and password is not None:
                client.login(channel.username, password)
            refused = client.send_message(mail)
        finally:
            _quit(client)
        detail = f"250 accepted for {len(channel.recipients) - len(refused)} recipient(s)"
        if refused:
            # Some recipients were refused and the rest accepted: retrying would mail the
            # accepted ones twice, so the partial result is recorded instead.
            detail += "; refused: " + ", ".join(
                f"{rcpt} ({code})" for rcpt, (code, _) in refused.items()
            )
        return detail

    def _classify(self, exc: OSError) -> tuple[type[ResponderError], str]:
        """What a failure means: 4xx and connection faults are retried, the rest is not."""
        where = f"{self.name}: SMTP {self.channel.host}:{self.channel.port}"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            answers = exc.recipients.items()
            text = ", ".join(f"{rcpt}: {code} {_said(reply)}" for rcpt, (code, reply) in answers)
            # Greylisting answers 450/451 per recipient: that passes, a 550 does not.
            temporary = all(code // 100 == _TRANSIENT_CLASS for _, (code, _) in answers)
            return _kind(temporary), f"{where}: every recipient refused: {text}"
        if isinstance(exc, smtplib.SMTPResponseException):
            said = f"{exc.smtp_code} {_said(exc.smtp_error)}"
            if isinstance(exc, smtplib.SMTPAuthenticationError):
                said = f"login as {self.channel.username} refused: {said}"
            return _kind(exc.smtp_code // 100 == _TRANSIENT_CLASS), f"{where}: {said}"
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return TransientError, f"{where}: the server closed the connection: {exc}"
        if isinstance(exc, smtplib.SMTPException):
            # No STARTTLS, no AUTH, no usable AUTH mechanism: the server's setup, not a moment.
            return PermanentError, f"{where}: {exc}"
        return TransientError, f"{where}: {type(exc).__name__}: {exc}"

    def describe(self) -> dict[str, str]:
        """Every setting; the password by reference."""
        return describe_channel(self.channel, self._environ)


class _DeadlineSMTP(smtplib.SMTP):
    """An SMTP client whose every send and reply wait gets only the time left to `deadline`."""

    def __init__(self, *args: Any, deadline: float, **kwargs: Any) -> None:  # noqa: ANN401
        self._deadline = deadline
        super().__init__(*args, **kwargs)

    def _arm(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise self._late()
        if self.sock is not None:
            self.sock.settimeout(left)

    def _late(self) -> TimeoutError:
        return TimeoutError(f"the SMTP exchange took longer than {self.timeout:g} s")

    def send(self, s: Any) -> None:  # noqa: ANN401 - smtplib's own loose signature
        """Send, waiting no longer than the deadline allows."""
        self._arm()
        try:
            super().send(s)
        except smtplib.SMTPServerDisconnected as exc:  # what smtplib makes of a socket timeout
            if isinstance(exc.__context__, TimeoutError):
                raise self._late() from None
            raise

    def getreply(self) -> tuple[int, bytes]:
        """Read the reply, waiting no longer than the deadline allows."""
        self._arm()
        try:
            return super().getreply()
        except smtplib.SMTPServerDisconnected as exc:
            if isinstance(exc.__context__, TimeoutError):
                raise self._late() from None
            raise


class _DeadlineSMTPSSL(_DeadlineSMTP, smtplib.SMTP_SSL):
    """Implicit TLS under one deadline."""


def _kind(transient: bool) -> type[ResponderError]:
    """TransientError or PermanentError."""
    return TransientError if transient else PermanentError


def _said(reply: bytes | str) -> str:
    """A server reply as one line of text."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _quit(client: smtplib.SMTP) -> None:
    """Say goodbye; a failed QUIT after the mail was accepted must not turn into a resend."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
