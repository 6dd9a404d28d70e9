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


def with_token(token: str = TOKEN, header: str = "X-Responder-Token") -> AuthSettings:
    """Auth settings holding a token as RESPONDER_TOKEN would."""
    return AuthSettings(token=SecretStr(token), header=header)


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
    """Journaled alerts are sensitive: the read views are behind the same token."""
    client = await make_client(auth=with_token())
    assert (await client.get("/v1/events")).status == 401
    ok = await client.get("/v1/events", headers={"Authorization": f"Bearer {TOKEN}"})
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
