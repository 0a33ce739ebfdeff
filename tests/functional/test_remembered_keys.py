"""On the Function URL path a key this process checked is remembered with the account's keys epoch
(sparkai.keys.epochs), and its next request is one conditional write before the model: the
reservation, which also requires that epoch. Every supported change to the account's keys moves
the epoch, so each of them reaches the very next request; nothing is trusted on memory alone."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from sparkai import aws
from sparkai.api.app import create_app
from sparkai.auth.authenticator import Authenticator
from sparkai.keys.epochs import KeyEpochs
from sparkai.keys.store import KeyStore
from sparkai.plans import Limits
from tests.conftest import REGION, TABLES, KeyFactory, queue_sagemaker_results
from tests.functional.test_chat_handler import TGI_ANSWER
from tests.support.dynamodb_calls import DynamoDBCalls

HELLO = {"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def client(moto: None) -> Iterator[TestClient]:
    queue_sagemaker_results(*[json.dumps(TGI_ANSWER)] * 8)
    with TestClient(create_app()) as test_client:
        yield test_client


def post(client: TestClient, secret: str, **body: Any) -> Any:
    return client.post(
        "/v1/chat", json={**HELLO, **body}, headers={"Authorization": f"Bearer {secret}"}
    )


def test_a_remembered_key_costs_one_dynamodb_call_before_the_model(
    client: TestClient, make_key: KeyFactory
) -> None:
    key = make_key()
    with DynamoDBCalls(aws.dynamodb()) as first:
        assert post(client, key.secret).status_code == 200
    with DynamoDBCalls(aws.dynamodb()) as second:
        assert post(client, key.secret).status_code == 200
    keys, limits = TABLES["ApiKeysTable"], TABLES["RateLimitsTable"]
    # First sight: read the key, reserve, read it again to remember it at the epoch just seen.
    assert first.operations()[:3] == [("GetItem", keys), ("UpdateItem", limits), ("GetItem", keys)]
    # Remembered: the reservation alone vouches for it; then the settle.
    assert second.operations() == [("UpdateItem", limits), ("TransactWriteItems", "")]


def test_a_revoked_key_gets_401_and_holds_nothing(client: TestClient, make_key: KeyFactory) -> None:
    first = make_key("enterprise", limits=Limits(5, 100_000))
    second = make_key.admin.create_key(first.record.account_id)
    assert post(client, first.secret).headers["x-ratelimit-remaining-requests"] == "4"
    make_key.admin.revoke_key(first.record.key_id)
    refused = post(client, first.secret)  # immediately, though this process remembers the key
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "This API key has been revoked."
    # The refused request holds nothing: the account's next request sees 3 left, not 2.
    assert post(client, second.secret).headers["x-ratelimit-remaining-requests"] == "3"


def test_a_plan_change_is_applied_to_the_very_next_request(
    client: TestClient, make_key: KeyFactory
) -> None:
    key = make_key("starter")
    assert post(client, key.secret).headers["x-ratelimit-limit-requests"] == "30"
    make_key.admin.change_plan(key.record.account_id, "pro")
    response = post(client, key.secret)
    assert response.status_code == 200
    assert response.headers["x-ratelimit-limit-requests"] == "90"


def test_what_the_remembered_plan_refuses_the_current_plan_decides(
    client: TestClient, make_key: KeyFactory
) -> None:
    """max_tokens over the plan's tokens per minute is a 400; after the limit is raised, the
    remembered (old) terms must not refuse it."""
    key = make_key("enterprise", limits=Limits(100, 500))
    assert post(client, key.secret, max_tokens=16).status_code == 200
    assert post(client, key.secret, max_tokens=1000).status_code == 400
    make_key.admin.change_plan(key.record.account_id, "enterprise", limits=Limits(100, 100_000))
    assert post(client, key.secret, max_tokens=1000).status_code == 200


def test_a_budget_change_is_applied_to_the_very_next_request(
    client: TestClient, make_key: KeyFactory
) -> None:
    key = make_key("pro")
    assert post(client, key.secret).status_code == 200
    make_key.admin.set_budget(key.record.account_id, Decimal(0))
    refused = post(client, key.secret)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "insufficient_quota"


def test_a_rotated_key_stops_at_once_without_grace_and_keeps_working_with_it(
    client: TestClient, make_key: KeyFactory
) -> None:
    kept, cut = make_key(), make_key()
    for key in (kept, cut):
        assert post(client, key.secret).status_code == 200
    make_key.admin.rotate_key(kept.record.key_id, grace_seconds=3600)
    make_key.admin.rotate_key(cut.record.key_id, grace_seconds=0)
    assert post(client, kept.secret).status_code == 200
    assert post(client, cut.secret).status_code == 401


def test_key_changes_write_the_record_before_moving_the_epoch(
    moto: None, make_key: KeyFactory
) -> None:
    """The order Authenticator.confirm relies on: record first, epoch after, for every change."""
    key = make_key("starter")
    admin = make_key.admin
    for change in (
        lambda: admin.change_plan(key.record.account_id, "pro"),
        lambda: admin.set_budget(key.record.account_id, Decimal(5)),
        lambda: admin.rotate_key(key.record.key_id, grace_seconds=60),
        lambda: admin.revoke_key(key.record.key_id),
    ):
        with DynamoDBCalls(admin._keys._client) as calls:  # the client the fixture's stores share
            change()
        seen = [table for operation, table in calls.operations() if operation == "UpdateItem"]
        assert seen[-1] == TABLES["RateLimitsTable"], seen
        assert TABLES["ApiKeysTable"] in seen[:-1], seen


def test_moving_the_epoch_keeps_the_item_past_any_reservations_expiry(moto: None) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    KeyEpochs(TABLES["RateLimitsTable"], lambda: dynamodb).bump("acct_ttl")
    item = dynamodb.get_item(
        TableName=TABLES["RateLimitsTable"], Key={"account_id": {"S": "acct_ttl"}}
    )["Item"]
    assert item["keys_epoch"] == {"N": "1"}
    # A reservation's expiry is at most the month's end plus a week: < 39 days from now.
    assert int(item["expires_at"]["N"]) >= time.time() + 39 * 86400


def test_a_key_revoked_between_its_check_and_the_epoch_read_is_not_remembered(
    moto: None, make_key: KeyFactory
) -> None:
    """authenticate() read the key, the revocation landed, then the reservation read the epoch:
    confirm() reads the key again after that epoch, sees the revocation, remembers nothing."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    authenticator = Authenticator(KeyStore(TABLES["ApiKeysTable"], lambda: dynamodb))
    key = make_key()
    header = f"Bearer {key.secret}"
    principal = authenticator.authenticate(header)
    make_key.admin.revoke_key(key.record.key_id)  # record, then epoch 0 -> 1
    authenticator.confirm(header, principal, key_epoch=1)  # the epoch after the revocation
    assert authenticator.recent(header) is None
    other = make_key()
    other_header = f"Bearer {other.secret}"
    other_principal = authenticator.authenticate(other_header)
    authenticator.confirm(other_header, other_principal, key_epoch=0)
    remembered = authenticator.recent(other_header)
    assert remembered is not None and remembered.principal == other_principal


def test_a_key_is_not_remembered_past_its_expiry(moto: None, make_key: KeyFactory) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    now = [time.time()]
    authenticator = Authenticator(
        KeyStore(TABLES["ApiKeysTable"], lambda: dynamodb), clock=lambda: now[0]
    )
    key = make_key(expires_in=60)
    header = f"Bearer {key.secret}"
    authenticator.confirm(header, authenticator.authenticate(header), key_epoch=0)
    assert authenticator.recent(header) is not None
    now[0] += 61
    assert authenticator.recent(header) is None
