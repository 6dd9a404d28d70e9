"""The `webhook` channel: the whole message as JSON to any HTTP endpoint, optionally signed."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, ClassVar

from responder.channels import WebhookChannel
from responder.errors import ConfigError
from responder.notifiers._base import Notifier
from responder.notifiers._describe import describe_channel
from responder.notifiers._http import json_body, post_json

if TYPE_CHECKING:
    import aiohttp

    from responder.notifiers._base import Delivery
    from responder.notifiers._message import Message
    from responder.secrets import SecretRef

__all__ = ["WEBHOOK_VERSION", "WebhookNotifier", "signature"]

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
