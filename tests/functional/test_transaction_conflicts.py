"""DynamoDB rejects a write that meets an ongoing transaction on its item: a single-item write with
TransactionConflictException, a transaction with TransactionCanceledException (reason
TransactionConflict). botocore's standard retries cover neither and moto never raises them, yet
one account's requests sent back to back meet exactly so: a reservation and the previous
request's settle on the same limiter item. Those writes try again: no 503, no metering lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from sparkai import aws
from sparkai.api.app import create_app
from tests.conftest import JsonLogs, KeyFactory, queue_sagemaker_results
from tests.functional.test_chat_handler import TGI_ANSWER

HELLO = {"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def client(moto: None) -> Iterator[TestClient]:
    queue_sagemaker_results(*[json.dumps(TGI_ANSWER)] * 4)
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def _conflict(operation: str) -> ClientError:
    if operation == "TransactWriteItems":
        error: dict[str, Any] = {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": [
                {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
                {"Code": "None"},
                {"Code": "None"},
            ],
        }
    else:
        error = {
            "Error": {
                "Code": "TransactionConflictException",
                "Message": "Transaction is ongoing for the item",
            }
        }
    return ClientError(error, operation)  # type: ignore[arg-type]


class Conflicting:
    """The app's real (moto) client, whose next `times` reservations or settles lose the race."""

    def __init__(self, real: Any, operation: str, times: int) -> None:
        self._real, self._operation, self.left = real, operation, times

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def _maybe_lose(self, operation: str) -> None:
        if operation == self._operation and self.left > 0:
            self.left -= 1
            raise _conflict(operation)

    def update_item(self, **kwargs: Any) -> Any:
        if kwargs.get("ReturnValuesOnConditionCheckFailure"):  # the reservation
            self._maybe_lose("UpdateItem")
        return self._real.update_item(**kwargs)

    def transact_write_items(self, **kwargs: Any) -> Any:
        self._maybe_lose("TransactWriteItems")
        return self._real.transact_write_items(**kwargs)


def chat(client: TestClient, secret: str) -> Any:
    return client.post("/v1/chat", json=HELLO, headers={"Authorization": f"Bearer {secret}"})


def usage(client: TestClient, secret: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(
        "/v1/usage", headers={"Authorization": f"Bearer {secret}"}
    ).json()
    return body


@pytest.mark.parametrize("operation", ["UpdateItem", "TransactWriteItems"])
def test_losing_to_a_transaction_is_retried_and_the_answer_metered_once(
    client: TestClient, make_key: KeyFactory, json_logs: JsonLogs, operation: str
) -> None:
    key = make_key()
    conflicting = Conflicting(aws.client("dynamodb"), operation, times=2)
    aws.set_client("dynamodb", conflicting)
    answer = chat(client, key.secret)
    assert answer.status_code == 200, answer.text
    assert conflicting.left == 0  # both conflicts happened, and were outlasted
    totals = usage(client, key.secret)["totals"]
    assert totals["requests"] == 1
    assert totals["total_tokens"] == answer.json()["usage"]["total_tokens"]
    assert "limiter.settle_failed" not in json_logs.text


def test_a_reservation_that_keeps_losing_is_the_documented_503(
    client: TestClient, make_key: KeyFactory
) -> None:
    key = make_key()
    aws.set_client("dynamodb", Conflicting(aws.client("dynamodb"), "UpdateItem", times=50))
    refused = chat(client, key.secret)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "rate_limiter_unavailable"
    assert refused.headers["retry-after"]
