"""A real SMTP server's handler (aiosmtpd) that keeps each mail, for mail tests."""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from email.message import EmailMessage

    from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps each mail, or answers RCPT and DATA as the test says."""

    mails: list[EmailMessage] = field(default_factory=list)
    sessions: list[tuple[bool, bool]] = field(default_factory=list)
    """(over TLS, authenticated) for each mail."""
    refuse: dict[str, str] = field(default_factory=dict)
    """Recipient -> the answer to its RCPT."""
    data_answer: str | None = None
    rcpt_delay: float = 0.0
    """Seconds to wait before answering each RCPT (a slow server)."""

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        """Accept the recipient unless told to refuse it."""
        del server, session, options
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Keep the mail, unless told to answer otherwise."""
        del server
        if self.data_answer is not None:
            return self.data_answer
        assert isinstance(envelope.content, bytes)
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(mail, email.message.EmailMessage)
        self.mails.append(mail)
        self.sessions.append((session.ssl is not None, bool(session.authenticated)))
        return "250 Message accepted"
