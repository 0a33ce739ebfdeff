"""A plan or budget change binds every key of the account on its next request, however late the
by_account index lists a key and however old a key's copy of the limits is (issue 25 §4;
sparkai.limits.published): a key created while the change runs, one the lagging index hides, and
an API Gateway authorizer answer cached before the change. Still one DynamoDB call before the
model once a process has seen the change. moto, the real app on the bearer path."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from sparkai import aws
from sparkai.accounts.service import AccountAdmin, CreatedKey
from sparkai.accounts.store import AccountStore
from sparkai.api.app import create_app
from sparkai.chat.schemas import parse_chat_request
from sparkai.chat.service import ChatService
from sparkai.chat.tokens import EstimatingTokenCounter
from sparkai.chat.usage import LogUsageRecorder
from sparkai.endpoints.port import ModelReply, TokenUsage
from sparkai.errors import SpendLimitExceededError
from sparkai.keys.epochs import KeyEpochs
from sparkai.keys.records import ApiKeyRecord, Principal
from sparkai.limits.limiter import DynamoDBRateLimiter
from sparkai.plans import Limits
from tests.conftest import REGION, TABLES, queue_sagemaker_results
from tests.functional.test_chat_handler import TGI_ANSWER
from tests.functional.test_fault_promises import LaggingIndexKeyStore
from tests.support.dynamodb_calls import DynamoDBCalls

HELLO = {"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}]}


class KeyStoreRacingAChange(LaggingIndexKeyStore):
    """A lagging index, and `during`: a change that runs between the moment create_key copied the
    account's limits and the moment the key is written (the change cannot list it, and the key
    keeps the limits from before the change)."""

    during: Callable[[], Any] | None = None

    def put(self, record: ApiKeyRecord) -> None:
        change, self.during = self.during, None
        if change is not None:
            change()
        super().put(record)


@pytest.fixture
def dynamodb(moto: None) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def store(dynamodb: Any) -> KeyStoreRacingAChange:
    return KeyStoreRacingAChange(TABLES["ApiKeysTable"], lambda: dynamodb)


@pytest.fixture
def admin(dynamodb: Any, store: KeyStoreRacingAChange) -> AccountAdmin:
    return AccountAdmin(
        accounts=AccountStore(TABLES["AccountsTable"], lambda: dynamodb),
        keys=store,
        epochs=KeyEpochs(TABLES["RateLimitsTable"], lambda: dynamodb),
    )


@pytest.fixture
def client(moto: None) -> Iterator[TestClient]:
    queue_sagemaker_results(*[json.dumps(TGI_ANSWER)] * 8)
    with TestClient(create_app()) as test_client:
        yield test_client


def post(client: TestClient, key: CreatedKey) -> Any:
    return client.post("/v1/chat", json=HELLO, headers={"Authorization": f"Bearer {key.secret}"})


def keys_missed_by(
    admin: AccountAdmin, store: KeyStoreRacingAChange, plan: str, change: Callable[[str], Any]
) -> tuple[CreatedKey, CreatedKey, CreatedKey]:
    """An account with a key the change lists, one the lagging index hides from it, and one
    created while the change runs."""
    account = admin.create_account(plan)
    listed = admin.create_key(account.account_id)
    store.lag()  # from now on new keys reach the by_account index late
    hidden = admin.create_key(account.account_id)
    store.during = lambda: change(account.account_id)
    racing = admin.create_key(account.account_id)
    return listed, hidden, racing


def test_a_budget_cut_stops_every_key_at_once(
    client: TestClient, admin: AccountAdmin, store: KeyStoreRacingAChange
) -> None:
    # Given a pro account (no spend limit) whose budget is cut to $0 while keys are being made
    keys = keys_missed_by(admin, store, "pro", lambda a: admin.set_budget(a, Decimal(0)))
    # The change could not reach two of the keys' copies ...
    assert [store.find_by_secret(k.secret).spend_limit_usd for k in keys] == [  # type: ignore[union-attr]
        Decimal(0),
        None,
        None,
    ]
    # ... and still every key is refused on its next request
    for key in keys:
        refused = post(client, key)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "insufficient_quota"


def test_a_budget_raised_reaches_every_key_at_once(
    client: TestClient, admin: AccountAdmin, store: KeyStoreRacingAChange
) -> None:
    # Given an account whose budget is $0 when its keys are made, raised while they are made
    account = admin.create_account("pro")
    admin.set_budget(account.account_id, Decimal(0))
    listed = admin.create_key(account.account_id)
    store.lag()
    hidden = admin.create_key(account.account_id)
    store.during = lambda: admin.set_budget(account.account_id, Decimal(100))
    racing = admin.create_key(account.account_id)
    keys = (listed, hidden, racing)
    # The raise could not reach two of the keys' copies, which still say $0 ...
    assert [store.find_by_secret(k.secret).spend_limit_usd for k in keys] == [  # type: ignore[union-attr]
        Decimal(100),
        Decimal(0),
        Decimal(0),
    ]
    # ... and still every key is served on its next request, the stale ones first (this process
    # has not seen the raise): a copy alone above its limit is not refused from the copy, the
    # item holding the published limits decides
    for key in (hidden, racing, listed):
        response = post(client, key)
        assert response.status_code == 200, response.text


def test_a_plan_change_applies_to_every_key_and_costs_one_call_once_seen(
    client: TestClient, admin: AccountAdmin, store: KeyStoreRacingAChange
) -> None:
    # Given a pro account moved to starter while keys are being made
    keys = keys_missed_by(admin, store, "pro", lambda a: admin.change_plan(a, "starter"))
    assert [store.find_by_secret(k.secret).plan for k in keys] == [  # type: ignore[union-attr]
        "starter",
        "pro",
        "pro",
    ]
    # Then every key gets the starter plan's 30 requests a minute, not pro's 90
    for key in keys:
        response = post(client, key)
        assert response.status_code == 200, response.text
        assert response.headers["x-ratelimit-limit-requests"] == "30"
    # And once this process has seen the change, a stale copy costs no extra call before the
    # model: the reservation (one conditional write), then the settle.
    _, _, racing = keys
    with DynamoDBCalls(aws.dynamodb()) as calls:
        assert post(client, racing).headers["x-ratelimit-limit-requests"] == "30"
    limits = TABLES["RateLimitsTable"]
    assert calls.operations() == [("UpdateItem", limits), ("TransactWriteItems", "")]


def test_an_authorizer_answer_cached_before_a_budget_cut_cannot_spend_past_it(
    dynamodb: Any, admin: AccountAdmin
) -> None:
    # Given the principal API Gateway cached from the authorizer before the budget was cut
    account = admin.create_account("pro")
    key = admin.create_key(account.account_id)
    cached = Principal(account.account_id, key.record.key_id, "pro", Limits(90, 75_000))
    admin.set_budget(account.account_id, Decimal("0.000001"))

    class Model:
        def invoke(self, request: Any) -> ModelReply:
            return ModelReply("Hi", "stop", TokenUsage(10, 2))

    service = ChatService(
        endpoint_for=lambda _: Model(),  # type: ignore[arg-type,return-value]
        limiter=DynamoDBRateLimiter(
            TABLES["RateLimitsTable"], lambda: dynamodb, usage_table=TABLES["UsageTable"]
        ),
        tokens=EstimatingTokenCounter(),
        usage=LogUsageRecorder(),
    )
    request = parse_chat_request(json.dumps({**HELLO, "max_tokens": 16}).encode())
    with pytest.raises(SpendLimitExceededError) as refused:
        service.complete(cached, request)
    assert refused.value.limit_usd == Decimal("0.000001")


def test_the_published_limits_never_expire_while_keys_change(
    dynamodb: Any, admin: AccountAdmin
) -> None:
    """The item holding the account's limits is their authority: if it expired (TTL), an old copy
    would count again. A change removes its expiry; reservations and key changes do not add one."""
    account = admin.create_account("pro")
    key = admin.create_key(account.account_id)
    admin.change_plan(account.account_id, "starter")
    current = admin.get_account(account.account_id)
    limiter = DynamoDBRateLimiter(TABLES["RateLimitsTable"], lambda: dynamodb)
    principal = Principal(
        account.account_id, key.record.key_id, "starter", current.limits, limits_epoch=1
    )
    limiter.reserve(principal, 100)
    admin.revoke_key(key.record.key_id)  # moves the keys epoch on the same item
    item = dynamodb.get_item(
        TableName=TABLES["RateLimitsTable"], Key={"account_id": {"S": account.account_id}}
    )["Item"]
    assert "expires_at" not in item
    assert (item["limits_epoch"]["N"], item["limits_plan"]["S"], item["limits_rpm"]["N"]) == (
        "1",
        "starter",
        "30",
    )
    assert current.limits_epoch == 1
