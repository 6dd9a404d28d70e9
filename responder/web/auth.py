"""Intake authentication: a bearer token, a shared-secret header, or a verified client certificate."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from aiohttp import web

from responder.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp.typedefs import Handler, Middleware
    from pydantic import SecretStr

__all__ = ["Authenticator", "auth_middleware"]

_PROTECTED_PREFIX = "/v1/"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="responder"'}


class Authenticator:
    """Decides whether a request carries a valid credential; compares tokens in constant time."""

    def __init__(
        self,
        token: SecretStr | None,
        header: str,
        *,
        mutual_tls: bool,
        admin_token: SecretStr | None = None,
    ) -> None:
        self._token = token.get_secret_value().encode() if token else None
        self._admin = admin_token.get_secret_value().encode() if admin_token else None
        self._header = header
        self._mutual_tls = mutual_tls

    @property
    def enabled(self) -> bool:
        """Some credential is configured; with none, the server listens on loopback only."""
        return self._token is not None or self._mutual_tls

    def _peer_verified(self, request: web.Request) -> bool:
        # The TLS context verifies certificates it is given (CERT_OPTIONAL); a peer cert here
        # has been checked against our CA during the handshake.
        transport = request.transport
        return bool(self._mutual_tls and transport and transport.get_extra_info("peercert"))

    def _presented(self, request: web.Request) -> str | None:
        authorization = request.headers.get("Authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        return request.headers.get(self._header)

    def check(self, request: web.Request) -> None:
        """Raise a 401 InputError unless the request is authenticated."""
        if not self.enabled or self._peer_verified(request):
            return
        presented = self._presented(request)
        if presented is None:
            raise InputError(
                401,
                f"missing credential: send 'Authorization: Bearer <token>' or '{self._header}'",
                headers=_CHALLENGE,
            )
        if self._token is None or not hmac.compare_digest(presented.encode(), self._token):
            raise InputError(401, "invalid credential", headers=_CHALLENGE)

    def check_admin(self, request: web.Request) -> None:
        """Changing endpoints need their own credential, as a bearer token; 403 when none is set."""
        if self._admin is None:
            raise InputError(
                403,
                "release over HTTP is disabled: set RESPONDER_ADMIN_TOKEN (or _FILE), "
                "or run `responder release ID` on the host",
            )
        presented = self._presented(request)
        if presented is None or not hmac.compare_digest(presented.encode(), self._admin):
            raise InputError(401, "this endpoint needs the admin credential", headers=_CHALLENGE)


def _changes_state(request: web.Request) -> bool:
    return request.method == "POST" and request.path.startswith("/v1/incidents/")


def auth_middleware(
    authenticator: Authenticator, on_reject: Callable[[web.Request], None]
) -> Middleware:
    """Check credentials on `/v1/` before any body is read; health and metrics stay open."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _changes_state(request):
            authenticator.check_admin(request)
        elif request.path.startswith(_PROTECTED_PREFIX):
            try:
                authenticator.check(request)
            except InputError:
                on_reject(request)
                raise
        return await handler(request)

    return middleware
