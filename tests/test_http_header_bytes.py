"""Bytes that are not UTF-8 in credentials, `Expect` and query strings: a 4xx, never a 500.

Sent over raw sockets (aiohttp's client will not send such bytes) to `responder serve` run
twice: with aiohttp's C parser and with its pure-Python one (AIOHTTP_NO_EXTENSIONS), which
differ in what they let through. aiohttp keeps header bytes that are not UTF-8 as lone
surrogates; before the fix, encoding a credential made of them for the comparison answered 500
with a traceback, before authentication.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from _faults import ServeProcess

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import ClientFactory

TOKEN = "intake-token-0123456789"
READ = "read-\u00e9t\u00e9-\u2603-token"  # non-ASCII: a UTF-8 token must still work as sent
ADMIN = "admin-token-0123456789"
HEADER = "X-Responder-Token"
INCIDENT = "01JQ8ZK3V5T7W9X1Y2Z3A4B5ZZ"
BODY = b'{"rule":"Terminal shell in container","priority":"Notice","output":"x","output_fields":{}}'
ROUTES = {
    ("POST", "/v1/events/falco"): TOKEN,
    ("POST", "/v1/events/alertmanager"): TOKEN,
    ("GET", "/v1/events"): READ,
    ("GET", f"/v1/events/{INCIDENT}"): READ,
    ("GET", "/v1/incidents"): READ,
    ("GET", f"/v1/incidents/{INCIDENT}"): READ,
    ("GET", f"/v1/incidents/{INCIDENT}/report"): READ,
    ("POST", f"/v1/incidents/{INCIDENT}/release"): ADMIN,
}
"""Every protected route and the token of its role."""
NOT_UTF8 = (
    b"\xe9",  # Latin-1 e-acute
    b"caf\xe9",
    b"\x80",  # a continuation byte alone
    b"\xc3",  # a lead byte alone
    b"\xe2\x82",  # a sequence cut short
    b"\xc0\xaf",  # overlong "/"
    b"\xe0\x80\xaf",  # overlong "/", three bytes
    b"\xf0\x80\x80\xaf",  # overlong "/", four bytes
    b"\xed\xa0\x80",  # the surrogate U+D800 encoded
    b"\xed\xbf\xbf",  # the surrogate U+DFFF encoded
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\xf8\x88\x80\x80\x80",  # a five-byte form
    b"\xfe\xff",
)


@dataclass(frozen=True)
class Answer:
    """A raw HTTP answer: status, headers (lower-cased names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON; fails the test if it is not JSON."""
        assert self.headers.get("content-type", "").startswith("application/json"), self
        return json.loads(self.body)


@pytest.fixture(scope="module", params=["c-parser", "python-parser"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """`responder serve` with an intake, a read and an admin token, under one of the parsers."""
    directory = tmp_path_factory.mktemp(request.param)
    (directory / "playbooks").mkdir()
    config = directory / "config.yaml"
    config.write_text("")
    with pytest.MonkeyPatch.context() as patch:
        for variable in ("TOKEN_FILE", "READ_TOKEN_FILE", "ADMIN_TOKEN_FILE"):
            patch.delenv(f"RESPONDER_{variable}", raising=False)
        patch.setenv("RESPONDER_TOKEN", TOKEN)
        patch.setenv("RESPONDER_READ_TOKEN", READ)
        patch.setenv("RESPONDER_ADMIN_TOKEN", ADMIN)
        patch.setenv("RESPONDER_TOKEN_HEADER", HEADER)
        if request.param == "python-parser":
            patch.setenv("AIOHTTP_NO_EXTENSIONS", "1")
        else:
            patch.delenv("AIOHTTP_NO_EXTENSIONS", raising=False)
        serve = ServeProcess(directory / "data", directory / "playbooks", config, directory)
        serve.start()  # the process takes the environment as it is now
    yield serve
    serve.stop()


def raw_request(
    method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> bytes:
    """An HTTP/1.1 request exactly as given, closing the connection after the answer."""
    lines = [
        f"{method} ".encode() + target + b" HTTP/1.1",
        b"Host: responder",
        b"Connection: close",
    ]
    lines += [name + b": " + value for name, value in headers]
    if method == "POST":
        lines += [b"Content-Type: application/json", b"Content-Length: %d" % len(body)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body if method == "POST" else b"")


def parse(data: bytes) -> Answer:
    """The last answer in `data` (an interim 100 Continue may come first)."""
    if data.startswith(b"HTTP/1.1 100 "):
        data = data.partition(b"\r\n\r\n")[2]
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, body)


def send(server: ServeProcess, request: bytes) -> Answer:
    """Send one raw request and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return parse(data)


def call(
    server: ServeProcess, method: str, path: bytes, headers: list[tuple[bytes, bytes]]
) -> Answer:
    """One route with these headers (and the Falco body on a POST)."""
    return send(server, raw_request(method, path, headers, BODY))


def credential(header: str, value: bytes) -> list[tuple[bytes, bytes]]:
    """`value` as a bearer token, or in the shared-secret header."""
    if header == "Authorization":
        return [(b"Authorization", b"Bearer " + value)]
    return [(header.encode(), value)]


def assert_no_traceback(server: ServeProcess) -> None:
    """The server logged no unexpected error for anything sent so far."""
    log = server.log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log
    assert "unexpected error" not in log


def assert_refused_as_not_utf8(answer: Answer, header: str) -> None:
    """401 with the challenge and a JSON message that names the header."""
    assert answer.status == 401, answer
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["message"] == f"invalid credential: the {header} header is not UTF-8 text"


@pytest.mark.parametrize("header", ["Authorization", HEADER])
def test_a_credential_that_is_not_utf8_is_401_on_every_route(
    server: ServeProcess, header: str
) -> None:
    """Regression (500 before authentication): every shape of bad UTF-8, alone or around a token."""
    for (method, path), token in ROUTES.items():
        for bad in NOT_UTF8:
            for value in (bad, token.encode() + bad, bad + token.encode()):
                answer = call(server, method, path.encode(), credential(header, value))
                assert_refused_as_not_utf8(answer, header)
    assert_no_traceback(server)


@pytest.mark.parametrize("header", ["Authorization", HEADER])
def test_every_byte_from_0x80_to_0xff_alone_in_a_credential_is_401(
    server: ServeProcess, header: str
) -> None:
    """Each byte that is never UTF-8 alone, on a route of each role."""
    routes = [("POST", b"/v1/events/falco"), ("GET", b"/v1/incidents")]
    routes.append(("POST", f"/v1/incidents/{INCIDENT}/release".encode()))
    for byte in range(0x80, 0x100):
        for method, path in routes:
            answer = call(server, method, path, credential(header, bytes([byte])))
            assert_refused_as_not_utf8(answer, header)
    assert_no_traceback(server)


def test_a_token_with_non_ascii_letters_works_as_utf8_and_not_as_latin1(
    server: ServeProcess,
) -> None:
    """The same letters in another encoding are not the token: 401, not 500."""
    as_utf8 = call(server, "GET", b"/v1/incidents", credential(HEADER, READ.encode()))
    assert as_utf8.status == 200
    latin1 = READ.encode("latin-1", "replace")
    as_latin1 = call(server, "GET", b"/v1/incidents", credential("Authorization", latin1))
    assert_refused_as_not_utf8(as_latin1, "Authorization")


def test_a_bad_credential_on_the_first_of_two_headers_is_401(server: ServeProcess) -> None:
    """The first Authorization header is the one read; bytes that are not UTF-8 there are refused."""
    headers = [(b"Authorization", b"Bearer \xe9"), (b"Authorization", f"Bearer {TOKEN}".encode())]
    assert_refused_as_not_utf8(call(server, "POST", b"/v1/events/falco", headers), "Authorization")
    assert_no_traceback(server)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        *ROUTES,
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/v1/nothing-here"),
        ("DELETE", "/v1/events"),
        ("GET", "/nothing-here"),
    ],
)
def test_an_expect_header_other_than_100_continue_is_a_json_417(
    server: ServeProcess, method: str, path: str
) -> None:
    """Regression (aiohttp's default answered 500 for bytes that are not UTF-8): a JSON 417."""
    for value in (*NOT_UTF8, b"100-continue\xe9", b"something-else"):
        answer = call(server, method, path.encode(), [(b"Expect", value)])
        assert answer.status == 417, (value, answer)
        assert "100-continue" in answer.json()["message"]
    assert_no_traceback(server)


def test_expect_100_continue_is_answered_and_the_body_accepted(server: ServeProcess) -> None:
    """A sender that waits for `100 Continue` (curl, for larger bodies) gets it, then its 202."""
    headers = [(b"Expect", b"100-continue"), *credential("Authorization", TOKEN.encode())]
    head = raw_request("POST", b"/v1/events/falco", headers, BODY).removesuffix(BODY)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(BODY)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert parse(data).status == 202


READ_VIEWS = (b"/v1/events", b"/v1/incidents", f"/v1/incidents/{INCIDENT}/report".encode())
PARAMETERS = (b"name", b"source", b"before", b"limit", b"format")


def test_a_query_that_is_not_utf8_is_400_on_every_read_view(server: ServeProcess) -> None:
    """Regression (the pure-Python parser passed them to SQLite: 500): raw bytes in a query."""
    for path in READ_VIEWS:
        for bad in NOT_UTF8:
            targets = [path + b"?" + name + b"=" + bad for name in PARAMETERS]
            targets.append(path + b"?" + bad + b"=1")
            for target in targets:
                answer = call(server, "GET", target, credential("Authorization", READ.encode()))
                assert answer.status == 400, (target, answer)
                if answer.headers.get("content-type", "").startswith("application/json"):
                    assert "not UTF-8 text" in answer.json()["message"]
    assert_no_traceback(server)


def test_percent_escapes_that_are_not_utf8_never_get_a_500(server: ServeProcess) -> None:
    """`%E9` and friends decode to U+FFFD: an answer about the value, never a 500."""
    for path in READ_VIEWS:
        for bad in NOT_UTF8:
            escaped = "".join(f"%{byte:02X}" for byte in bad).encode()
            for name in PARAMETERS:
                target = path + b"?" + name + b"=" + escaped
                answer = call(server, "GET", target, credential("Authorization", READ.encode()))
                assert answer.status in {200, 400, 404}, (target, answer)
                assert answer.json()
    assert_no_traceback(server)


async def test_an_unknown_expectation_is_a_json_417_from_the_app_itself(
    make_client: ClientFactory,
) -> None:
    """In-process too (the routes carry their own Expect handler): JSON, not aiohttp's text."""
    client = await make_client()
    for path in ("/v1/events/falco", "/v1/nowhere"):
        answer = await client.post(path, data=BODY, headers={"Expect": "202-accepted"})
        assert answer.status == 417
        assert "100-continue" in (await answer.json())["message"]


async def test_a_client_that_waits_for_100_continue_is_answered(make_client: ClientFactory) -> None:
    """The aiohttp client with `expect100`: the interim answer comes, the body is accepted."""
    client = await make_client()
    answer = await client.post("/v1/events/falco", data=BODY, expect100=True)
    assert answer.status == 202
