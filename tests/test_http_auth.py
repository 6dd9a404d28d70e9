"""Intake authentication: bearer token, shared-secret header, token file, and what stays open."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from responder.errors import ConfigError
from responder.settings import AuthSettings

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import ClientFactory

BODY = {"rule": "Terminal shell in container", "priority": "Notice", "output": "shell"}
TOKEN = "s3cret-token-for-tests"
READ = "read-token-for-tests"
ADMIN = "admin-token-for-tests"
INCIDENT = "01JQ8ZK3V5T7W9X1Y2Z3A4B5ZZ"
EVENT = "01JQ8ZK3V5T7W9X1Y2Z3A4B5YY"
READ_VIEWS = {
    "/v1/events": 200,
    f"/v1/events/{EVENT}": 404,
    "/v1/incidents": 200,
    f"/v1/incidents/{INCIDENT}": 404,
    f"/v1/incidents/{INCIDENT}/report": 404,
}
"""Every read view and what it answers once the credential is accepted (nothing is stored)."""
RELEASE = f"/v1/incidents/{INCIDENT}/release"


def with_token(token: str = TOKEN, header: str = "X-Responder-Token") -> AuthSettings:
    """Auth settings holding a token as RESPONDER_TOKEN would."""
    return AuthSettings(token=SecretStr(token), header=header)


def with_roles(*, read: str | None = READ, admin: str | None = ADMIN) -> AuthSettings:
    """The intake token, and the read and admin tokens unless told None."""
    return AuthSettings(
        token=SecretStr(TOKEN),
        read_token=SecretStr(read) if read else None,
        admin_token=SecretStr(admin) if admin else None,
    )


def bearer(token: str) -> dict[str, str]:
    """The header that presents a token as a bearer token."""
    return {"Authorization": f"Bearer {token}"}


async def test_missing_credential_is_401_with_a_challenge(make_client: ClientFactory) -> None:
    """No credential: 401, a Bearer challenge, and a message that says what to send."""
    client = await make_client(auth=with_token())
    response = await client.post("/v1/events/falco", json=BODY)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in (await response.json())["message"]


async def test_wrong_token_is_401(make_client: ClientFactory) -> None:
    """A token that does not match is refused."""
    client = await make_client(auth=with_token())
    response = await client.post(
        "/v1/events/falco", json=BODY, headers={"Authorization": "Bearer nope"}
    )
    assert response.status == 401
    assert (await response.json())["message"] == "invalid credential"


async def test_bearer_token_is_accepted(make_client: ClientFactory) -> None:
    """What Alertmanager's `authorization: {type: Bearer}` sends is accepted."""
    client = await make_client(auth=with_token())
    response = await client.post(
        "/v1/events/falco", json=BODY, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status == 202


async def test_shared_secret_header_is_accepted(make_client: ClientFactory) -> None:
    """What Falcosidekick's `customheaders` can send, under a configurable name."""
    client = await make_client(auth=with_token(header="X-Falco-Secret"))
    response = await client.post("/v1/events/falco", json=BODY, headers={"X-Falco-Secret": TOKEN})
    assert response.status == 202


async def test_token_file_is_read_like_a_docker_secret(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    """The token comes from the file named by RESPONDER_TOKEN_FILE, trailing newline ignored."""
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    client = await make_client(auth=AuthSettings(token_file=secret))
    response = await client.post(
        "/v1/events/falco", json=BODY, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status == 202


async def test_unreadable_token_file_stops_startup(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    """A token file that is missing is a configuration error naming the file."""
    with pytest.raises(ConfigError, match=r"token file .*missing"):
        await make_client(auth=AuthSettings(token_file=tmp_path / "missing"))


async def test_unauthenticated_request_is_refused_before_its_body_is_read(
    make_client: ClientFactory,
) -> None:
    """A huge body without a credential gets 401, not 413: no work is done for it."""
    client = await make_client(auth=with_token())
    response = await client.post("/v1/events/falco", data=b"x" * 4096)
    assert response.status == 401


async def test_event_views_need_the_credential_too(make_client: ClientFactory) -> None:
    """Journaled alerts are sensitive: the read views are behind the read token."""
    client = await make_client(auth=with_roles())
    assert (await client.get("/v1/events")).status == 401
    ok = await client.get("/v1/events", headers=bearer(READ))
    assert ok.status == 200


async def test_health_and_metrics_stay_open(make_client: ClientFactory) -> None:
    """Probes and scrapes need no credential."""
    client = await make_client(auth=with_token())
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/metrics")).status == 200


async def test_rejected_requests_are_counted(make_client: ClientFactory) -> None:
    """Unauthorized intake attempts show up in the metrics by source."""
    client = await make_client(auth=with_token())
    await client.post("/v1/events/alertmanager", json={})
    text = await (await client.get("/metrics")).text()
    assert 'outcome="unauthorized",source="alertmanager"} 1.0' in text


@pytest.mark.parametrize("path", READ_VIEWS)
@pytest.mark.parametrize("header", ["Authorization", "X-Responder-Token"])
async def test_intake_token_cannot_read(make_client: ClientFactory, path: str, header: str) -> None:
    """What every Falcosidekick and Alertmanager holds only sends: 403 naming the read credential."""
    client = await make_client(auth=with_roles())
    value = f"Bearer {TOKEN}" if header == "Authorization" else TOKEN
    response = await client.get(path, headers={header: value})
    assert response.status == 403
    message = (await response.json())["message"]
    assert "intake token" in message
    assert "RESPONDER_READ_TOKEN" in message


@pytest.mark.parametrize(("path", "status"), READ_VIEWS.items())
@pytest.mark.parametrize("token", [READ, ADMIN])
async def test_read_and_admin_tokens_read_every_view(
    make_client: ClientFactory, path: str, status: int, token: str
) -> None:
    """The read token reads; so does the admin token."""
    client = await make_client(auth=with_roles())
    assert (await client.get(path, headers=bearer(token))).status == status


async def test_read_token_neither_sends_alerts_nor_releases(make_client: ClientFactory) -> None:
    """The read credential is refused (403, naming the right one) on intake and on release."""
    client = await make_client(auth=with_roles())
    sent = await client.post("/v1/events/falco", json=BODY, headers=bearer(READ))
    assert sent.status == 403
    assert "RESPONDER_TOKEN" in (await sent.json())["message"]
    released = await client.post(RELEASE, headers=bearer(READ))
    assert released.status == 403
    assert "RESPONDER_ADMIN_TOKEN" in (await released.json())["message"]


async def test_admin_token_does_not_send_alerts(make_client: ClientFactory) -> None:
    """Each role its own token: the admin token is no intake credential."""
    client = await make_client(auth=with_roles())
    response = await client.post("/v1/events/falco", json=BODY, headers=bearer(ADMIN))
    assert response.status == 403


async def test_without_a_read_token_the_admin_token_reads(make_client: ClientFactory) -> None:
    """No RESPONDER_READ_TOKEN: reading needs the admin token, and the intake token still may not."""
    client = await make_client(auth=with_roles(read=None))
    assert (await client.get("/v1/incidents", headers=bearer(ADMIN))).status == 200
    assert (await client.get("/v1/incidents", headers=bearer(TOKEN))).status == 403


async def test_with_no_read_or_admin_token_reading_is_refused(make_client: ClientFactory) -> None:
    """Only an intake token: reading over HTTP answers 403 and says what to set."""
    client = await make_client(auth=with_roles(read=None, admin=None))
    for path in READ_VIEWS:
        response = await client.get(path, headers=bearer(TOKEN))
        assert response.status == 403
        assert "RESPONDER_READ_TOKEN" in (await response.json())["message"]


async def test_with_no_credential_at_all_intake_and_reading_are_open(
    make_client: ClientFactory,
) -> None:
    """Loopback-only and open, as before: intake and every view answer; release stays off."""
    client = await make_client()
    assert (await client.post("/v1/events/falco", json=BODY)).status == 202
    for path, status in READ_VIEWS.items():
        assert (await client.get(path)).status == status
    assert (await client.post(RELEASE)).status == 403


async def test_a_read_token_alone_guards_reading_and_leaves_intake_open(
    make_client: ClientFactory,
) -> None:
    """A read token with no intake token: reading needs it, intake is open (loopback only)."""
    client = await make_client(auth=AuthSettings(read_token=SecretStr(READ)))
    assert (await client.post("/v1/events/falco", json=BODY)).status == 202
    assert (await client.get("/v1/events")).status == 401
    assert (await client.get("/v1/events", headers=bearer(READ))).status == 200


async def test_read_token_file_is_read_like_a_docker_secret(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    """RESPONDER_READ_TOKEN_FILE: the read token from a file, trailing newline ignored."""
    secret = tmp_path / "read_token"
    secret.write_text(READ + "\n")
    client = await make_client(auth=AuthSettings(token=SecretStr(TOKEN), read_token_file=secret))
    assert (await client.get("/v1/events", headers=bearer(READ))).status == 200


@pytest.mark.parametrize(
    ("same", "auth"),
    [
        (
            (
                r"admin token \(RESPONDER_ADMIN_TOKEN\) is the same as the intake token "
                r"\(RESPONDER_TOKEN\): every sender of alerts .* could then release"
            ),
            AuthSettings(token=SecretStr(TOKEN), admin_token=SecretStr(TOKEN)),
        ),
        (
            (
                r"read token \(RESPONDER_READ_TOKEN\) is the same as the intake token "
                r"\(RESPONDER_TOKEN\): every sender of alerts .* could then read"
            ),
            AuthSettings(token=SecretStr(TOKEN), read_token=SecretStr(TOKEN)),
        ),
        (
            (
                r"admin token \(RESPONDER_ADMIN_TOKEN\) is the same as the read token "
                r"\(RESPONDER_READ_TOKEN\): whoever only reads could then also release"
            ),
            AuthSettings(read_token=SecretStr(ADMIN), admin_token=SecretStr(ADMIN)),
        ),
    ],
)
async def test_a_token_shared_by_two_roles_stops_startup(
    make_client: ClientFactory, same: str, auth: AuthSettings
) -> None:
    """Start-up refuses one secret for two roles, says why, and does not print the secret."""
    with pytest.raises(ConfigError, match=same) as caught:
        await make_client(auth=auth)
    assert TOKEN not in str(caught.value)
    assert ADMIN not in str(caught.value)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
async def test_unknown_v1_path_needs_a_credential_before_its_404(
    make_client: ClientFactory, method: str
) -> None:
    """A path no route serves: 401 to a stranger; 404 (or 405) to any valid credential."""
    client = await make_client(auth=with_roles())
    assert (await client.request(method, "/v1/nothing-here")).status == 401
    for token in (TOKEN, READ, ADMIN):
        response = await client.request(method, "/v1/nothing-here", headers=bearer(token))
        assert response.status == 404
    wrong = await client.request("PUT", "/v1/events", headers=bearer(READ))
    assert wrong.status == 405
