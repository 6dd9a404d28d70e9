"""One JSON POST for every HTTP notifier, and what its answer means: sent, retry later, or give up."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict

from responder import __version__
from responder.errors import ConfigError, PermanentError, TransientError
from responder.notifications.channels._base import DeliveryDeferredError
from responder.notifications.channels._fields import check_http_url

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from responder.secrets import SecretRef

__all__ = ["USER_AGENT", "json_body", "post_json", "secret_url"]

USER_AGENT = f"responder/{__version__}"
_EXCERPT = 200  # enough for `invalid_payload` or PagerDuty's JSON error list
_READ_LIMIT = 4096  # never read a large error page to quote 200 characters of it
_RETRIED = frozenset({408, 429})
_REDACTED = "[redacted]"


def json_body(document: Any) -> bytes:  # noqa: ANN401 - any JSON document
    """Compact UTF-8 JSON: the exact bytes that are sent, and signed."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def secret_url(ref: SecretRef, environ: Mapping[str, str] | None) -> str:
    """A webhook URL read from its secret; a ConfigError names the reference, never the value."""
    url = ref.resolve(environ).get_secret_value().strip()
    try:
        return check_http_url(url)
    except ValueError as exc:
        raise ConfigError(f"{ref}: {exc}") from None


# Long on purpose: every way a POST can end (2xx, redirect, 408/429/5xx, Retry-After, other
# 4xx, timeout, connection fault) is classified here, in one place, beside the others.
async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,  # noqa: ASYNC109 - handed to aiohttp, which applies it per request
    *,
    display: str,
    secrets: Iterable[str] = (),
) -> str:
    """POST `body` as JSON; `HTTP 2xx` when the far end took it.

    TransientError for connection faults, timeouts, HTTP 408, 429 and 5xx (DeliveryDeferredError
    when the answer had `Retry-After`), PermanentError for every other status. Errors name
    `display`, never `url` (it may embed a token), and `secrets` are cut out of any text the
    far end sent back.
    """
    sent = CIMultiDict(headers)
    sent["Content-Type"] = "application/json"
    sent["User-Agent"] = USER_AGENT
    hidden = _hidden(secrets)
    try:
        # A redirect is a wrong URL; following it would send the body (and any secret
        # header) somewhere the configuration never named.
        async with session.post(
            url,
            data=body,
            headers=sent,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
            raise_for_status=False,
        ) as response:
            status = response.status
            if 200 <= status < 300:  # noqa: PLR2004 - the 2xx class
                return f"HTTP {status}"
            excerpt = _scrub(await _excerpt(response), hidden)
            retry_after = _retry_after(response.headers.get("Retry-After"))
    except aiohttp.InvalidURL:
        raise PermanentError(f"{display}: invalid URL") from None
    except TimeoutError:
        raise TransientError(f"{display}: no answer within {timeout:g}s") from None
    except aiohttp.ClientError as exc:
        # `from None`: the chained exception may carry the URL into a logged traceback.
        problem = _scrub(str(exc), hidden) or "connection failed"
        raise TransientError(f"{display}: {type(exc).__name__}: {problem}") from None
    problem = f"{display}: HTTP {status}" + (f": {excerpt}" if excerpt else "")
    if status in _RETRIED or status >= 500:  # noqa: PLR2004 - the 5xx class
        if retry_after is not None:
            raise DeliveryDeferredError(problem, retry_after=retry_after)
        raise TransientError(problem)
    if status < 400:  # noqa: PLR2004 - 3xx
        problem += " (redirects are not followed: check the URL)"
    raise PermanentError(problem)


async def _excerpt(response: aiohttp.ClientResponse) -> str:
    """The start of the answer's body on one line, for the error; empty if it cannot be read."""
    try:
        raw = await response.content.read(_READ_LIMIT)
    except (aiohttp.ClientError, TimeoutError):
        return ""
    text = " ".join(raw.decode("utf-8", "replace").split())
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"


def _retry_after(value: str | None) -> float | None:
    """Seconds from `Retry-After`, given as seconds or as an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _hidden(secrets: Iterable[str]) -> list[str]:
    """Each secret, and the path of each secret URL: error texts may quote either alone."""
    hidden = []
    for secret in secrets:
        if not secret.strip():
            continue
        hidden.append(secret)
        parts = urlsplit(secret)
        if parts.scheme and parts.netloc and len(parts.path) > 1:
            hidden.append(parts.path)
    # Longest first, so a URL is replaced whole before its path is looked for.
    return sorted(hidden, key=len, reverse=True)


def _scrub(text: str, hidden: list[str]) -> str:
    """`text` with every hidden value replaced by a marker."""
    for secret in hidden:
        text = text.replace(secret, _REDACTED)
    return text
