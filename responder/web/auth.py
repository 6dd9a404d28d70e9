"""Authentication by role: intake sends alerts, read reads them, admin releases containments.

Each role has its own token (a bearer token, or the shared-secret header for senders that
cannot send one) and, with mutual TLS, its own list of client certificate subjects. The admin
credential may read too; the intake credential only sends alerts.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from aiohttp import hdrs, web

from responder.errors import InputError
from responder.settings import ROLES, ClientSubjects, Role
from responder.settings._subjects import peer_subject
from responder.web.routing import served_by_us

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

    from aiohttp.typedefs import Handler, Middleware
    from pydantic import SecretStr

__all__ = ["Authenticator", "auth_middleware", "required_role"]

_PROTECTED_PREFIX = "/v1/"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="responder"'}
_ACCEPTED: dict[Role, tuple[Role, ...]] = {
    "intake": ("intake",),
    "read": ("read", "admin"),
    "admin": ("admin",),
}
_DOES: dict[Role, str] = {
    "intake": "send alerts",
    "read": "read events, incidents and reports",
    "admin": "release containments",
}
_TOKENS: dict[Role, str] = {
    "intake": "the intake token (RESPONDER_TOKEN)",
    "read": "the read token (RESPONDER_READ_TOKEN) or the admin token",
    "admin": "the admin token (RESPONDER_ADMIN_TOKEN)",
}
_NOT_SET_UP: dict[Role, str] = {
    "read": "reading over HTTP is not set up: set RESPONDER_READ_TOKEN (or _FILE; the admin "
    "token reads too), or list certificate subjects under tls.client_subjects.read; the intake "
    "token only sends alerts. On the host, `responder events`, `responder incidents` and "
    "`responder report` read directly",
    "admin": "release over HTTP is disabled: set RESPONDER_ADMIN_TOKEN (or _FILE), "
    "or run `responder release ID` on the host",
}


class Authenticator:
    """Decides whether a request may act in a role; compares tokens in constant time."""

    def __init__(
        self,
        tokens: Mapping[Role, SecretStr],
        header: str,
        *,
        mutual_tls: bool,
        subjects: ClientSubjects | None = None,
    ) -> None:
        # Tokens are UTF-8 text (the settings refuse others), compared as the bytes sent.
        self._tokens = {role: token.get_secret_value().encode() for role, token in tokens.items()}
        self._header = header
        self._mutual_tls = mutual_tls
        listed = subjects or ClientSubjects()
        self._allows = {role: listed.allows(role) for role in ROLES}
        self._listed = {"intake": True, "read": bool(listed.read or listed.admin)}
        self._listed["admin"] = bool(listed.admin)

    @property
    def intake_open(self) -> bool:
        """No intake credential: anyone who reaches the server may send alerts (loopback only)."""
        return "intake" not in self._tokens and not self._mutual_tls

    @property
    def open(self) -> bool:
        """No credential of any kind: intake and reading are open, release is off."""
        return not self._tokens and not self._mutual_tls

    def set_up(self, role: Role) -> bool:
        """Some credential could act in the role."""
        by_token = any(accepted in self._tokens for accepted in _ACCEPTED[role])
        return by_token or (self._mutual_tls and self._listed[role])

    def check(self, request: web.Request, role: Role | None) -> None:
        """Raise InputError unless the request may act in `role` (None: in any role).

        401 when no valid credential came, 403 when a valid one of another role came or the
        role has no credential configured at all.
        """
        if (role == "intake" and self.intake_open) or (role != "admin" and self.open):
            return  # release is never open: it needs the admin credential
        if role is not None and not self.set_up(role):
            raise InputError(403, _NOT_SET_UP[role])
        accepted = _ACCEPTED[role] if role is not None else ROLES
        subject = self._subject(request)
        if subject is not None and any(self._allows[r](subject) for r in accepted):
            return
        presented = self._presented(request)
        if presented is None:
            if subject is not None and role is not None:
                raise InputError(
                    403,
                    f"the client certificate {subject[:200]!r} may not {_DOES[role]}: "
                    f"that needs {self._needs(role)}",
                )
            raise InputError(401, self._missing(role), headers=_CHALLENGE)
        holder = self._holder(presented)
        if holder in accepted:
            return
        if holder is not None and role is not None:
            raise InputError(
                403,
                f"this is the {holder} token: it may only {_DOES[holder]}; "
                f"to {_DOES[role]}, send {self._needs(role)}",
            )
        raise InputError(401, "invalid credential", headers=_CHALLENGE)

    def _needs(self, role: Role, how: str = "") -> str:
        """The credentials that act in the role, as configured, for messages."""
        needs = f"{_TOKENS[role]}{how}"
        if self._mutual_tls and self._listed[role]:
            needs += f", or a client certificate allowed to {_DOES[role]}"
        return needs

    def _missing(self, role: Role | None) -> str:
        how = f" as 'Authorization: Bearer <token>' or in '{self._header}'"
        if role is None:
            return f"missing credential: send a token{how}"
        return f"missing credential: to {_DOES[role]}, send {self._needs(role, how)}"

    def _subject(self, request: web.Request) -> str | None:
        """The subject of the client's verified certificate, or None without one."""
        # The TLS context verifies certificates it is given (CERT_OPTIONAL); a peer cert here
        # has been checked against our CA during the handshake.
        transport = request.transport
        if not self._mutual_tls or transport is None:
            return None
        return peer_subject(transport.get_extra_info("peercert"))

    def _presented(self, request: web.Request) -> bytes | None:
        """The credential sent, as the bytes that came; 401 if they are not UTF-8 text."""
        name: str = hdrs.AUTHORIZATION
        scheme, _, credentials = request.headers.get(name, "").partition(" ")
        value: str | None = credentials.strip()
        if scheme.lower() != "bearer" or not value:
            name, value = self._header, request.headers.get(self._header)
        if value is None:
            return None
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:
            # aiohttp keeps header bytes that are not UTF-8 as lone surrogates: no token is
            # made of them (the settings refuse such tokens), so this is no credential.
            raise InputError(
                401, f"invalid credential: the {name} header is not UTF-8 text", headers=_CHALLENGE
            ) from None

    def _holder(self, presented: bytes) -> Role | None:
        """The role whose token was sent, or None; every token is compared, in constant time."""
        holder = None
        for role, token in self._tokens.items():
            if hmac.compare_digest(presented, token):
                holder = role
        return holder


def required_role(request: web.Request, intake_paths: Collection[str]) -> Role | None:
    """The role a `/v1/` request needs: its route's; None (any role) for no route (404, 405)."""
    if not served_by_us(request):
        return None
    if request.method != hdrs.METH_POST:
        return "read"
    return "intake" if request.path in intake_paths else "admin"


def auth_middleware(
    authenticator: Authenticator,
    intake_paths: Collection[str],
    on_reject: Callable[[web.Request], None],
) -> Middleware:
    """Check credentials on `/v1/` before any body is read; health and metrics stay open."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(_PROTECTED_PREFIX):
            role = required_role(request, intake_paths)
            try:
                authenticator.check(request, role)
            except InputError:
                if role == "intake":
                    on_reject(request)
                raise
        return await handler(request)

    return middleware
