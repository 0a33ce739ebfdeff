"""Documented promises under faults (issue 11): 503s carry retry-after, container errors never
leak internals, rotation never leaves an account without a usage-plan key, no secret in a repr."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from fastapi.testclient import TestClient

from sparkai import aws
from sparkai.accounts.edge import UsagePlanEdge
from sparkai.accounts.service import AccountAdmin
from sparkai.accounts.store import AccountStore
from sparkai.api.app import create_app
from sparkai.auth.authenticator import Authenticator
from sparkai.keys.epochs import KeyEpochs
from sparkai.keys.records import ApiKeyRecord
from sparkai.keys.store import KeyStore
from tests.conftest import REGION, TABLES, KeyFactory, queue_sagemaker_results
from tests.support.usage_plans import usage_plans_api

HELLO = {"model": "spark-1", "messages": [{"role": "user", "content": "Hello"}]}
PREFIX = "sparkai-test"


@pytest.fixture
def client(moto: None) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_an_unreadable_key_store_is_a_503_with_retry_after_never_an_allow(
    client: TestClient, make_key: KeyFactory
) -> None:
    key = make_key()
    broken = boto3.client("dynamodb", region_name=REGION)
    stubber = Stubber(broken)
    stubber.add_client_error("get_item", "InternalServerError", http_status_code=500)
    aws.set_client("dynamodb", broken)
    with stubber:
        response = client.post(
            "/v1/chat", json=HELLO, headers={"Authorization": f"Bearer {key.secret}"}
        )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "auth_unavailable"
    assert response.headers["retry-after"] == "1"
    stubber.assert_no_pending_responses()  # the key read was tried: the 503 is its answer


# -- container errors reach the client cleaned ------------------------------------------------

LEAKS = ("Qwen", "qwen", "/opt/ml", "Traceback", "arn:aws", "10.0.", "ip-10-", "sagemaker", "vllm")


@pytest.mark.parametrize(
    "body",
    [
        # TGI: a validation error in a 200-shaped body is rare, a generation failure is not
        {
            "error": "Request failed during generation: Server error: CUDA out of memory. Tried to allocate 2.00 GiB on ip-10-0-3-17",
            "error_type": "generation",
        },
        # vLLM's OpenAI server
        {
            "object": "error",
            "message": 'Traceback (most recent call last):\n  File "/opt/ml/model/vllm/engine.py", line 12',
            "type": "InternalServerError",
            "code": 500,
            "error": {"message": "Qwen/Qwen2.5-7B-Instruct crashed on 10.0.3.17"},
        },
    ],
)
def test_a_container_failure_is_a_clean_502(
    client: TestClient, make_key: KeyFactory, body: dict[str, Any]
) -> None:
    key = make_key()
    queue_sagemaker_results(json.dumps(body))
    response = client.post(
        "/v1/chat", json=HELLO, headers={"Authorization": f"Bearer {key.secret}"}
    )
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "model_error"
    assert error["message"] == "The model failed to produce an answer."
    for leak in LEAKS:
        assert leak not in response.text


# -- rotation is order-safe --------------------------------------------------------------------


class LaggingIndexKeyStore(KeyStore):
    """The by_account index as DynamoDB may really serve it: keys written after `lag()` are not
    in it yet (a GSI is eventually consistent; the table itself is read consistently)."""

    def __init__(self, table_name: str, client_factory: Any) -> None:
        super().__init__(table_name, client_factory)
        self._hidden: set[str] | None = None

    def lag(self) -> None:
        self._hidden = set()

    def put(self, record: ApiKeyRecord) -> None:
        super().put(record)
        if self._hidden is not None:
            self._hidden.add(record.key_id)

    def list_for_account(self, account_id: str) -> Iterator[ApiKeyRecord]:
        for record in super().list_for_account(account_id):
            if self._hidden is None or record.key_id not in self._hidden:
                yield record


@pytest.fixture
def apigateway(moto: None) -> Any:
    return usage_plans_api(PREFIX)


def test_rotating_without_grace_keeps_the_usage_plan_key_while_the_index_lags(
    apigateway: Any,
) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    store = LaggingIndexKeyStore(TABLES["ApiKeysTable"], lambda: dynamodb)
    admin = AccountAdmin(
        accounts=AccountStore(TABLES["AccountsTable"], lambda: dynamodb),
        keys=store,
        epochs=KeyEpochs(TABLES["RateLimitsTable"], lambda: dynamodb),
        edge=UsagePlanEdge(apigateway, PREFIX),
    )
    account = admin.create_account("pro")
    old = admin.create_key(account.account_id)
    usage_key_id = admin.get_account(account.account_id).usage_key_id
    store.lag()  # from now on new keys reach the index late

    new = admin.rotate_key(old.record.key_id, grace_seconds=0)

    # The account keeps an enabled usage-plan key (API Gateway would answer 403 otherwise) ...
    assert apigateway.get_api_key(apiKey=usage_key_id)["enabled"] is True
    # ... the new key works and the old one is revoked
    authenticator = Authenticator(store)
    assert authenticator.authenticate(f"Bearer {new.secret}").account_id == account.account_id
    assert store.find_by_secret(old.secret).status == "revoked"  # type: ignore[union-attr]


# -- no secret in a repr -----------------------------------------------------------------------


def test_a_created_key_never_shows_its_secret(make_key: KeyFactory) -> None:
    created = make_key()
    assert created.secret not in repr(created)
    assert created.secret not in str(created)
    assert created.secret not in repr([created])
    assert created.record.key_id in repr(created)  # still useful to print
