"""The `webhook` channel: the whole message as JSON to any HTTP endpoint, optionally signed."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, model_validator

from responder.errors import ConfigError
from responder.notifications.channels._base import Notifier
from responder.notifications.channels._channel import ChannelSettings
from responder.notifications.channels._describe import describe_channel
from responder.notifications.channels._fields import (
    HeaderName,
    HeaderValue,
    HttpUrlText,
    check_http_url,
)
from responder.notifications.channels._http import json_body, post_json
from responder.secrets import SecretRef

if TYPE_CHECKING:
    from collections.abc import Mapping

    import aiohttp

    from responder.notifications.channels._base import Delivery
    from responder.notifications.channels._message import Message

__all__ = ["WEBHOOK_VERSION", "WebhookChannel", "WebhookNotifier", "signature"]

# Header names whose values are credentials: they go in `secret_headers`, never in `headers`.
_SECRET_HEADER = re.compile(
    r"authorization|cookie|token|secret|password|api[-_]?key", re.IGNORECASE
)


class WebhookChannel(ChannelSettings):
    """A generic JSON webhook: POST the incident, with optional headers and an HMAC signature."""

    kind: Literal["webhook"] = "webhook"
    url: HttpUrlText | None = Field(default=None, description="where to POST, when not secret")
    url_secret: SecretRef | None = Field(
        default=None, description="the URL by reference, for URLs that embed a token"
    )
    headers: dict[HeaderName, HeaderValue] = Field(
        default_factory=dict, description="extra headers that are not secret"
    )
    secret_headers: dict[HeaderName, SecretRef] = Field(
        default_factory=dict, description="headers whose values are secrets, by reference"
    )
    hmac_secret: SecretRef | None = Field(
        default=None, description="sign the body with HMAC-SHA256 using this key"
    )
    hmac_header: HeaderName = Field(
        default="X-Responder-Signature", description="header that carries the signature"
    )

    @model_validator(mode="after")
    def _check(self) -> WebhookChannel:
        if (self.url is None) == (self.url_secret is None):
            raise ValueError("give exactly one of url or url_secret")
        for name in self.headers:
            if _SECRET_HEADER.search(name):
                raise ValueError(
                    f"header {name!r} carries a credential: move it to secret_headers "
                    "and refer to an environment variable or a file"
                )
        seen = [name.lower() for name in (*self.headers, *self.secret_headers)]
        if self.hmac_secret is not None:
            seen.append(self.hmac_header.lower())
        doubled = sorted({name for name in seen if seen.count(name) > 1})
        if doubled:
            raise ValueError(f"header set twice: {', '.join(doubled)}")
        return self

    def resolve_url(self, environ: Mapping[str, str] | None = None) -> str:
        """The URL to POST to, read from its secret when given by reference."""
        if self.url is not None:
            return self.url
        assert self.url_secret is not None  # noqa: S101 - the validator guarantees one of the two
        url = self.url_secret.resolve(environ).get_secret_value().strip()
        try:
            return check_http_url(url)
        except ValueError as exc:
            raise ConfigError(f"{self.url_secret}: {exc}") from None


WEBHOOK_VERSION = 1
"""Raised only when a field is removed or changes meaning; new fields may appear at any time."""


def signature(key: bytes, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of body>`, the form GitHub uses for its webhooks."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


class WebhookNotifier(Notifier[WebhookChannel]):
    """POST the message as JSON.

    The body is UTF-8 JSON::

        {"version": 1, "kind": "incident" | "release", "delivery": "responder-42",
         "channel": "<channel name>", "message": {<every Message field>}}

    Headers: `Content-Type: application/json`, `User-Agent: responder/<version>`,
    `X-Responder-Delivery: <delivery>`, the channel's `headers` and `secret_headers`, and with
    `hmac_secret` the `hmac_header` (`X-Responder-Signature`) carrying `sha256=<hex>`, the
    HMAC-SHA256 of the exact body bytes; receivers should compare it in constant time. The
    delivery key is the same on every retry, so a receiver can drop a repeat by it. Any 2xx
    answer is success.
    """

    kind: ClassVar[str] = "webhook"

    async def send(
        self, message: Message, delivery: Delivery, session: aiohttp.ClientSession
    ) -> str:
        """POST one message; see the class for the format."""
        channel = self.channel
        url = channel.resolve_url(self._environ)
        secrets = [] if channel.url is not None else [url]
        body = json_body(
            {
                "version": WEBHOOK_VERSION,
                "kind": message.kind,
                "delivery": delivery.key,
                "channel": self.name,
                "message": message.model_dump(mode="json"),
            }
        )
        headers = dict(channel.headers)
        for name, ref in channel.secret_headers.items():
            headers[name] = self._header_secret(ref)
            secrets.append(headers[name])
        headers["X-Responder-Delivery"] = delivery.key
        if channel.hmac_secret is not None:
            key = channel.hmac_secret.resolve(self._environ).get_secret_value()
            secrets.append(key)
            headers[channel.hmac_header] = signature(key.encode(), body)
        timeout = channel.timeout.total_seconds()
        return await post_json(
            session, url, body, headers, timeout, display=self.name, secrets=secrets
        )

    def _header_secret(self, ref: SecretRef) -> str:
        """A secret header value; a line break in it would split the request, so it is refused."""
        value = ref.resolve(self._environ).get_secret_value().strip()
        if "\r" in value or "\n" in value:
            raise ConfigError(f"{ref}: a header value cannot contain a line break")
        return value

    def describe(self) -> dict[str, str]:
        """Every setting; secret URL, headers and key by reference."""
        return describe_channel(self.channel, self._environ)
