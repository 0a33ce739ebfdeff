"""The dashboard's first key of an account, against the local AWS endpoint (moto's server over
HTTP: DynamoDB, API Gateway usage plans, Cognito): its API Gateway key is created once, however
many first requests race, and enabled only once the account records it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from starlette.testclient import TestClient

from sparkai import aws
from sparkai.api.app import create_app
from sparkai_local.aws_server import local_admin, provisioned_server
from sparkai_local.cognito import LocalUserPool, create_user_pool, sign_up_and_sign_in
from sparkai_local.dashboard_site import dashboard_env
from sparkai_local.endpoint import LOCAL_USAGE_PLAN_PREFIX, client, table_environment

PASSWORD = "correct-horse-42"


@pytest.fixture(scope="module")
def aws_world() -> Iterator[tuple[str, LocalUserPool]]:
    with provisioned_server() as server:
        yield server.url, create_user_pool(server.url)


@pytest.fixture
def api(
    aws_world: tuple[str, LocalUserPool], monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    url, pool = aws_world
    env = {
        "AWS_ENDPOINT_URL_DYNAMODB": url,
        "SPARKAI_AUTH_MODE": "bearer",
        **table_environment(),
        **dashboard_env(pool, "http://127.0.0.1:3000"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with TestClient(create_app()) as test_client:
        yield test_client


def signed_in(pool: LocalUserPool) -> dict[str, str]:
    email = f"tabs-{time.monotonic_ns()}@example.com"
    tokens = sign_up_and_sign_in(pool, email, PASSWORD)
    return {"Authorization": f"Bearer {tokens['IdToken']}"}


def edge_keys_of(url: str, account_id: str) -> list[dict[str, Any]]:
    """The API Gateway keys named after the account (what CreateApiKey made for it)."""
    items = client("apigateway", url).get_api_keys(includeValues=True)["items"]
    return [k for k in items if k["name"] == f"{LOCAL_USAGE_PLAN_PREFIX}-{account_id}"]


def test_two_first_key_creations_at_once_leave_one_enabled_api_gateway_key(
    api: TestClient, aws_world: tuple[str, LocalUserPool]
) -> None:
    url, pool = aws_world
    user = signed_in(pool)
    account_id = api.get("/v1/dashboard/account", headers=user).json()["id"]
    # Given two tabs whose first key creations have both created an API Gateway key (each
    # request waits here until the other has too) before either records its own ...
    both_created = threading.Barrier(2, timeout=30)
    events = aws.apigateway().meta.events

    def after_create_api_key(**_: Any) -> None:
        both_created.wait()

    events.register("after-call.apigateway.CreateApiKey", after_create_api_key)
    try:
        with ThreadPoolExecutor(2) as tabs:
            answers = list(
                tabs.map(
                    lambda name: api.post("/v1/dashboard/keys", headers=user, json={"name": name}),
                    ["tab 1", "tab 2"],
                )
            )
    finally:
        events.unregister("after-call.apigateway.CreateApiKey", after_create_api_key)

    # ... both get their key, and the account ends with exactly one API Gateway key, enabled,
    # the one it records and both new keys carry (the loser deleted its own).
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    (edge_key,) = edge_keys_of(url, account_id)
    assert edge_key["enabled"] is True
    admin = local_admin(url)
    assert admin.get_account(account_id).usage_key_id == edge_key["id"]
    records = admin.list_keys(account_id)
    assert {r.name for r in records} == {"tab 1", "tab 2"}
    assert {r.usage_key for r in records} == {edge_key["value"]}


def test_a_later_first_key_reuses_the_recorded_api_gateway_key(
    api: TestClient, aws_world: tuple[str, LocalUserPool]
) -> None:
    url, pool = aws_world
    user = signed_in(pool)
    account_id = api.get("/v1/dashboard/account", headers=user).json()["id"]
    for name in ("one", "two"):
        assert api.post("/v1/dashboard/keys", headers=user, json={"name": name}).status_code == 201
    (edge_key,) = edge_keys_of(url, account_id)
    assert edge_key["enabled"] is True
