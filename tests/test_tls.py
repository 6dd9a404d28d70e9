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
from responder.settings import AuthSettings, ClientSubjects, Settings, TlsSettings
from responder.web.tls import server_ssl_context

if TYPE_CHECKING:
    from pathlib import Path

BODY = {"rule": "Write below binary dir", "priority": "Error", "output": "touch /bin/x"}
READ_TOKEN = "read-token-for-tls-tests"
INCIDENT = "01JQ8ZK3V5T7W9X1Y2Z3A4B5ZZ"
RELEASE = f"/v1/incidents/{INCIDENT}/release"
LISTS = ClientSubjects(
    read=("CN=desk, OU=ops, O=Example Ltd",),  # written in another order than the certificate's
    admin=("organizationName=Example Ltd, commonName=oncall",),
)


@dataclass(frozen=True)
class Pki:
    """A CA, a server certificate for 127.0.0.1, clients it signed, and a stranger's client."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path
    reader: tuple[Path, Path]
    """Subject `/O=Example Ltd/OU=ops/CN=desk`: listed to read."""
    oncall: tuple[Path, Path]
    """Subject `/O=Example Ltd/CN=oncall`: listed as admin."""
    lookalike: tuple[Path, Path]
    """Subject `/O=Example Ltd/CN=desk`: the reader's subject with one attribute fewer."""


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


def _signed(
    directory: Path, name: str, ca: tuple[Path, Path], ext: str, subject: str | None = None
) -> tuple[Path, Path]:
    cert, key, csr = directory / f"{name}.pem", directory / f"{name}.key", directory / f"{name}.csr"
    extfile = directory / f"{name}.ext"
    extfile.write_text(ext)
    subj = subject or f"/CN={name}"
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subj, "-keyout", key, "-out", csr)
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
    client_ext = "extendedKeyUsage=clientAuth\n"
    client = _signed(directory, "falco", ca, client_ext)
    stranger = _self_signed(directory, "stranger")
    reader = _signed(directory, "desk", ca, client_ext, "/O=Example Ltd/OU=ops/CN=desk")
    oncall = _signed(directory, "oncall", ca, client_ext, "/O=Example Ltd/CN=oncall")
    lookalike = _signed(directory, "lookalike", ca, client_ext, "/O=Example Ltd/CN=desk")
    return Pki(ca[0], *server, *client, *stranger, reader, oncall, lookalike)


def client_context(pki: Pki, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """A client that trusts our CA and presents `cert` if given."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    if cert and key:
        context.load_cert_chain(cert, key)
    return context


async def _serve(
    aiohttp_server: Any, tmp_path: Path, pki: Pki, subjects: ClientSubjects | None = None
) -> str:
    settings = Settings(
        data_dir=tmp_path / "data",
        playbooks=tmp_path / "playbooks",
        tls=TlsSettings(
            cert=pki.server_cert, key=pki.server_key, client_ca=pki.ca, client_subjects=subjects
        ),
        auth=AuthSettings(token=SecretStr("backup-token"), read_token=SecretStr(READ_TOKEN)),
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


async def _call(
    url: str, method: str, path: str, context: ssl.SSLContext, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """One request over TLS: its status and its message (empty on success)."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{url}{path}", json=BODY, ssl=context, headers=headers) as answer,
    ):
        body = await answer.json()
        return answer.status, body.get("message", "") if isinstance(body, dict) else ""


async def test_without_subject_lists_a_certificate_only_sends_alerts(
    aiohttp_server: Any, tmp_path: Path, pki: Pki
) -> None:
    """As before: a verified certificate sends alerts; reading and release want their tokens."""
    url = await _serve(aiohttp_server, tmp_path, pki)
    context = client_context(pki, pki.client_cert, pki.client_key)
    assert (await _call(url, "POST", "/v1/events/falco", context))[0] == 202
    status, message = await _call(url, "GET", "/v1/incidents", context)
    assert status == 403
    assert "may not read" in message
    assert "RESPONDER_READ_TOKEN" in message
    assert (await _call(url, "POST", RELEASE, context))[0] == 403


async def test_a_listed_reader_reads_and_neither_sends_alerts_nor_releases(
    aiohttp_server: Any, tmp_path: Path, pki: Pki
) -> None:
    """`read` lists a subject: that certificate reads, and only reads."""
    url = await _serve(aiohttp_server, tmp_path, pki, LISTS)
    context = client_context(pki, *pki.reader)
    assert (await _call(url, "GET", "/v1/incidents", context))[0] == 200
    sent, message = await _call(url, "POST", "/v1/events/falco", context)
    assert sent == 403
    assert "CN=desk" in message
    assert (await _call(url, "POST", RELEASE, context))[0] == 403


async def test_a_listed_admin_releases_and_reads(
    aiohttp_server: Any, tmp_path: Path, pki: Pki
) -> None:
    """`admin` lists a subject: that certificate reaches release (404: no such incident) and reads."""
    url = await _serve(aiohttp_server, tmp_path, pki, LISTS)
    context = client_context(pki, *pki.oncall)
    assert (await _call(url, "POST", RELEASE, context))[0] == 404
    assert (await _call(url, "GET", "/v1/incidents", context))[0] == 200
    assert (await _call(url, "POST", "/v1/events/falco", context))[0] == 403


async def test_a_subject_with_one_attribute_fewer_is_not_the_listed_one(
    aiohttp_server: Any, tmp_path: Path, pki: Pki
) -> None:
    """`O=Example Ltd, CN=desk` is not `O=Example Ltd, OU=ops, CN=desk`: it may not read."""
    url = await _serve(aiohttp_server, tmp_path, pki, LISTS)
    context = client_context(pki, *pki.lookalike)
    status, message = await _call(url, "GET", "/v1/incidents", context)
    assert status == 403
    assert "CN=desk,O=Example Ltd" in message
    assert (await _call(url, "POST", "/v1/events/falco", context))[0] == 202  # unlisted: intake


async def test_an_unlisted_certificate_with_the_read_token_reads(
    aiohttp_server: Any, tmp_path: Path, pki: Pki
) -> None:
    """A certificate that may not read does not stop the read token from reading."""
    url = await _serve(aiohttp_server, tmp_path, pki, LISTS)
    context = client_context(pki, pki.client_cert, pki.client_key)
    headers = {"Authorization": f"Bearer {READ_TOKEN}"}
    assert (await _call(url, "GET", "/v1/incidents", context, headers))[0] == 200


async def test_an_intake_list_leaves_other_certificates_out(
    aiohttp_server: Any, tmp_path: Path, pki: Pki
) -> None:
    """`intake` lists Falco's certificate: another one our CA signed no longer sends alerts."""
    subjects = ClientSubjects(intake=("CN=falco",))
    url = await _serve(aiohttp_server, tmp_path, pki, subjects)
    falco = client_context(pki, pki.client_cert, pki.client_key)
    other = client_context(pki, *pki.lookalike)
    assert (await _call(url, "POST", "/v1/events/falco", falco))[0] == 202
    assert (await _call(url, "POST", "/v1/events/falco", other))[0] == 403
