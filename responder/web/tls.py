"""The server's TLS context: HTTPS, and optionally client certificates checked against our CA."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from responder.errors import ConfigError

if TYPE_CHECKING:
    from responder.settings import TlsSettings

__all__ = ["server_ssl_context"]


def server_ssl_context(tls: TlsSettings) -> ssl.SSLContext:
    """TLS 1.2 or newer; with a client CA, certificates are verified when presented.

    CERT_OPTIONAL, not CERT_REQUIRED: a health check without a certificate still gets an
    answer, and intake without a verified certificate still needs a token.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.cert, tls.key)
        if tls.client_ca is not None:
            context.load_verify_locations(cafile=tls.client_ca)
            context.verify_mode = ssl.CERT_OPTIONAL
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS: cannot load certificate, key or client CA: {exc}") from exc
    return context
