"""HTTPS, and mutual TLS as the credential Falco's own `http_output` can present."""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from pydantic import SecretStr

from responder.app import create_app
from responder.errors import ConfigError
from responder.settings import AuthSettings, Settings, TlsSettings
from responder.web.tls import server_ssl_context

if TYPE_CHECKING:
    from pathlib import Path

BODY = {"rule": "Write below binary dir", "priority": "Error", "output": "touch /bin/x"}


@dataclass(frozen=True)
class Pki:
    """A CA, a server certificate for 127.0.0.1, a client it signed, and a stranger's client."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
        "-keyout",
        key,
        "-out",
        cert,
    )
    return cert, key


def _signed(directory: Path, name: str, ca: tuple[Path, Path], ext: str) -> tuple[Path, Path]:
    cert, key, csr = directory / f"{name}.pem", directory / f"{name}.key", directory / f"{name}.csr"
    extfile = directory / f"{name}.ext"
    extfile.write_text(ext)
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", key, "-out", csr
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca[0],
        "-CAkey",
        ca[1],
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        cert,
        "-extfile",
        extfile,
    )
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates made with openssl for this module."""
    directory = tmp_path_factory.mktemp("pki")
    ca = _self_signed(directory, "ca")
    server = _signed(directory, "server", ca, "subjectAltName=IP:127.0.0.1\n")
    client = _signed(directory, "falco", ca, "extendedKeyUsage=clientAuth\n")
    stranger = _self_signed(directory, "stranger")
    return Pki(ca[0], *server, *client, *stranger)


def client_context(pki: Pki, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """A client that trusts our CA and presents `cert` if given."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    if cert and key:
        context.load_cert_chain(cert, key)
    return context


async def _serve(aiohttp_server: Any, tmp_path: Path, pki: Pki) -> str:
    settings = Settings(
        data_dir=tmp_path / "data",
        playbooks=tmp_path / "playbooks",
        tls=TlsSettings(cert=pki.server_cert, key=pki.server_key, client_ca=pki.ca),
        auth=AuthSettings(token=SecretStr("backup-token")),
    )
    assert settings.tls is not None
    server = await aiohttp_server(create_app(settings), ssl=server_ssl_context(settings.tls))
    return f"https://127.0.0.1:{server.port}"


async def test_verified_client_certificate_is_a_credential(
    aiohttp_server: Any, tmp_path: Path, pki: Pki
) -> None:
    """A client certificate signed by our CA authenticates intake without a token."""
    url = await _serve(aiohttp_server, tmp_path, pki)
    context = client_context(pki, pki.client_cert, pki.client_key)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/v1/events/falco", json=BODY, ssl=context) as response,
    ):
        assert response.status == 202


async def test_no_certificate_still_needs_the_token(
    aiohttp_server: Any, tmp_path: Path, pki: Pki
) -> None:
    """Without a client certificate, health answers, intake wants the token."""
    url = await _serve(aiohttp_server, tmp_path, pki)
    context = client_context(pki)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/healthz", ssl=context) as health:
            assert health.status == 200
        async with session.post(f"{url}/v1/events/falco", json=BODY, ssl=context) as refused:
            assert refused.status == 401
        headers = {"Authorization": "Bearer backup-token"}
        async with session.post(
            f"{url}/v1/events/falco", json=BODY, ssl=context, headers=headers
        ) as accepted:
            assert accepted.status == 202


async def test_certificate_from_another_ca_fails_the_handshake(
    aiohttp_server: Any, tmp_path: Path, pki: Pki
) -> None:
    """A client certificate we did not sign is refused before any HTTP."""
    url = await _serve(aiohttp_server, tmp_path, pki)
    context = client_context(pki, pki.stranger_cert, pki.stranger_key)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.post(f"{url}/v1/events/falco", json=BODY, ssl=context) as response:
                await response.read()


def test_unreadable_certificate_is_a_config_error(tmp_path: Path) -> None:
    """A missing key file stops start-up with a message naming TLS."""
    tls = TlsSettings(cert=tmp_path / "none.pem", key=tmp_path / "none.key")
    with pytest.raises(ConfigError, match="TLS: cannot load"):
        server_ssl_context(tls)
