"""The dashboard's first key of an account, against the local AWS endpoint (moto's server over
HTTP: DynamoDB, API Gateway usage plans, Cognito) enforcing each function's IAM role: its API
Gateway key is created once, however many first requests race, enabled only once the account
records it, and the dashboard's role allows exactly that (and refuses it without the grant)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from starlette.testclient import TestClient

from sparkai import aws
from sparkai.api.app import create_app
from sparkai_local.aws_server import local_admin, provisioned_server
from sparkai_local.cognito import LocalUserPool, create_user_pool, sign_up_and_sign_in
from sparkai_local.dashboard_site import dashboard_env
from sparkai_local.endpoint import (
    LOCAL_TABLES,
    LOCAL_USAGE_PLAN_PREFIX,
    client,
    table_environment,
)
from sparkai_local.function_roles import FunctionCredentials
from tests.support.function_credentials import signed_as_functions

PASSWORD = "correct-horse-42"


@dataclass(frozen=True)
class World:
    url: str
    pool: LocalUserPool
    functions: dict[str, FunctionCredentials]


@pytest.fixture(scope="module")
def aws_world() -> Iterator[World]:
    with provisioned_server() as server:
        yield World(server.url, create_user_pool(server.url), server.functions)


def serve_app(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app as the local stack's API process runs it: bearer keys (the Function URL path)
    and the dashboard, each route's AWS calls signed with its function's key."""
    env = {
        "AWS_ENDPOINT_URL_DYNAMODB": world.url,
        "SPARKAI_AUTH_MODE": "bearer",
        **table_environment(),
        **dashboard_env(world.pool, "http://127.0.0.1:3000"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with (
        signed_as_functions(world.functions, create_app()) as app,
        TestClient(app) as test_client,
    ):
        yield test_client


@pytest.fixture
def api(aws_world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    yield from serve_app(aws_world, monkeypatch)


def signed_in(pool: LocalUserPool) -> dict[str, str]:
    email = f"tabs-{time.monotonic_ns()}@example.com"
    tokens = sign_up_and_sign_in(pool, email, PASSWORD)
    return {"Authorization": tokens["IdToken"]}  # the raw ID token, as the dashboard sends it


def edge_keys_of(url: str, account_id: str) -> list[dict[str, Any]]:
    """The API Gateway keys named after the account (what CreateApiKey made for it)."""
    items = client("apigateway", url).get_api_keys(includeValues=True)["items"]
    return [k for k in items if k["name"] == f"{LOCAL_USAGE_PLAN_PREFIX}-{account_id}"]


def test_two_first_key_creations_at_once_leave_one_enabled_api_gateway_key(
    api: TestClient, aws_world: World
) -> None:
    url, pool = aws_world.url, aws_world.pool
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
    api: TestClient, aws_world: World
) -> None:
    url, pool = aws_world.url, aws_world.pool
    user = signed_in(pool)
    account_id = api.get("/v1/dashboard/account", headers=user).json()["id"]
    for name in ("one", "two"):
        assert api.post("/v1/dashboard/keys", headers=user, json={"name": name}).status_code == 201
    (edge_key,) = edge_keys_of(url, account_id)
    assert edge_key["enabled"] is True


@contextmanager
def without_statement(url: str, function: str, sid: str) -> Iterator[None]:
    """`function`'s role, as the local AWS process enforces it, without one of its statements
    (put back on the way out)."""
    iam = client("iam", url)
    for name in iam.list_user_policies(UserName=function)["PolicyNames"]:
        document = iam.get_user_policy(UserName=function, PolicyName=name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        kept = [s for s in document["Statement"] if s.get("Sid") != sid]
        if len(kept) < len(document["Statement"]):
            break
    else:
        raise AssertionError(f"{function} has no statement {sid}")
    reduced = {**document, "Statement": kept}
    iam.put_user_policy(UserName=function, PolicyName=name, PolicyDocument=json.dumps(reduced))
    try:
        yield
    finally:
        iam.put_user_policy(UserName=function, PolicyName=name, PolicyDocument=json.dumps(document))


def test_without_the_grant_the_first_key_is_refused_and_no_enabled_key_is_left(
    api: TestClient, aws_world: World
) -> None:
    """What AWS did before the grant (issue 24): the same path, with DashboardFunction's role
    lacking RecordAccountUsageKey, is refused by the local AWS process with AccessDenied."""
    user = signed_in(aws_world.pool)
    account_id = api.get("/v1/dashboard/account", headers=user).json()["id"]
    refused: list[str] = []

    def record(parsed: dict[str, Any], **_: Any) -> None:
        refused.append(parsed.get("Error", {}).get("Code", ""))

    aws.dynamodb().meta.events.register("after-call.dynamodb.UpdateItem", record)
    with without_statement(aws_world.url, "DashboardFunction", "RecordAccountUsageKey"):
        answer = api.post("/v1/dashboard/keys", headers=user, json={"name": "first"})
    assert answer.status_code >= 500, answer.text
    # the record of the new API Gateway key (the per-user dashboard budget's update, before it,
    # succeeds: code "")
    assert [code for code in refused if code] == ["AccessDeniedException"]
    assert edge_keys_of(aws_world.url, account_id) == []  # deleted (and it was never enabled)
    # With the grant, the same user's retry works.
    assert api.post("/v1/dashboard/keys", headers=user, json={"name": "again"}).status_code == 201


@pytest.mark.parametrize(
    ("table", "key", "attribute", "allowed"),
    [
        ("RateLimitsTable", "account_id", "keys_epoch", True),
        ("RateLimitsTable", "account_id", "spend_usd", False),  # a spend counter
        ("RateLimitsTable", "account_id", "req_tat", False),  # the request limiter's state
        ("AccountsTable", "account_id", "usage_key_id", True),
        ("AccountsTable", "account_id", "plan", False),
        ("AccountsTable", "account_id", "spend_limit_usd", False),
    ],
)
def test_the_dashboard_role_writes_only_its_own_attributes(
    aws_world: World, table: str, key: str, attribute: str, allowed: bool
) -> None:
    """The dashboard's UpdateItem grants are limited by dynamodb:Attributes: the keys epoch and
    the account's API Gateway key, never spend counters, plans or spend limits."""
    dashboard = aws_world.functions["DashboardFunction"]
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=aws_world.url,
        region_name="us-east-1",
        aws_access_key_id=dashboard.access_key_id,
        aws_secret_access_key=dashboard.secret_access_key,
    )
    update = {
        "TableName": LOCAL_TABLES[table],
        "Key": {key: {"S": "acct_attributes"}},
        "UpdateExpression": "SET #a = :v",
        "ExpressionAttributeNames": {"#a": attribute},
        "ExpressionAttributeValues": {":v": {"S": "x"}},
    }
    if allowed:
        dynamodb.update_item(**update)
    else:
        with pytest.raises(ClientError) as refused:
            dynamodb.update_item(**update)
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
