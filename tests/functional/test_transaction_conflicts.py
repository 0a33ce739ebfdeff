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
from fastapi.testclient import TestClient
from moto.dynamodb.exceptions import (
    ERROR_TYPE_PREFIX,
    DynamodbException,
    TransactionCanceledException,
)
from moto.dynamodb.models import DynamoDBBackend

from sparkai.api.app import create_app
from tests.conftest import JsonLogs, KeyFactory, queue_sagemaker_results
from tests.functional.test_chat_handler import TGI_ANSWER
from tests.functional.test_remembered_keys import post


@pytest.fixture
def client(moto: None) -> Iterator[TestClient]:
    queue_sagemaker_results(*[json.dumps(TGI_ANSWER)] * 4)
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


class Conflicting:
    """moto's DynamoDB, whose next `times` reservations (or settles) lose a race with a
    transaction: answered, over the wire, as DynamoDB answers them, before anything is written."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, operation: str, times: int) -> None:
        self.left = times
        if operation == "UpdateItem":
            real_update = DynamoDBBackend.update_item

            def update_item(backend: Any, *args: Any, **kwargs: Any) -> Any:
                if kwargs.get("return_values_on_condition_check_failure"):  # the reservation
                    self._maybe_lose(
                        DynamodbException(
                            ERROR_TYPE_PREFIX + "TransactionConflictException",
                            "Transaction is ongoing for the item",
                        )
                    )
                return real_update(backend, *args, **kwargs)

            monkeypatch.setattr(DynamoDBBackend, "update_item", update_item)
        else:
            real_transact = DynamoDBBackend.transact_write_items

            def transact_write_items(backend: Any, *args: Any, **kwargs: Any) -> Any:
                lost = ("TransactionConflict", "Transaction is ongoing for the item", None)
                self._maybe_lose(TransactionCanceledException([lost, (None,) * 3, (None,) * 3]))
                return real_transact(backend, *args, **kwargs)

            monkeypatch.setattr(DynamoDBBackend, "transact_write_items", transact_write_items)

    def _maybe_lose(self, error: Exception) -> None:
        if self.left > 0:
            self.left -= 1
            raise error


def usage(client: TestClient, secret: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(
        "/v1/usage", headers={"Authorization": f"Bearer {secret}"}
    ).json()
    return body


@pytest.mark.parametrize("operation", ["UpdateItem", "TransactWriteItems"])
def test_losing_to_a_transaction_is_retried_and_the_answer_metered_once(
    client: TestClient,
    make_key: KeyFactory,
    json_logs: JsonLogs,
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
) -> None:
    key = make_key()
    conflicting = Conflicting(monkeypatch, operation, times=2)
    answer = post(client, key.secret)
    assert answer.status_code == 200, answer.text
    assert conflicting.left == 0  # both conflicts happened, and were outlasted
    totals = usage(client, key.secret)["totals"]
    assert totals["requests"] == 1
    assert totals["total_tokens"] == answer.json()["usage"]["total_tokens"]
    assert "limiter.settle_failed" not in json_logs.text


def test_a_reservation_that_keeps_losing_is_the_documented_503(
    client: TestClient, make_key: KeyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = make_key()
    Conflicting(monkeypatch, "UpdateItem", times=50)
    refused = post(client, key.secret)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "rate_limiter_unavailable"
    assert refused.headers["retry-after"]
