"""On the Function URL path the key check (GetItem) and the reservation (UpdateItem) overlap for a
key this process accepted recently; nothing is trusted until the check agrees."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sparkai import aws
from sparkai.api.app import create_app
from sparkai.plans import Limits
from tests.conftest import KeyFactory, queue_sagemaker_results
from tests.functional.test_chat_handler import TGI_ANSWER

HELLO = {"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def client(moto: None) -> Iterator[TestClient]:
    queue_sagemaker_results(*[json.dumps(TGI_ANSWER)] * 5)
    with TestClient(create_app()) as test_client:
        yield test_client


def post(client: TestClient, secret: str) -> Any:
    return client.post("/v1/chat", json=HELLO, headers={"Authorization": f"Bearer {secret}"})


class Rendezvous:
    """Wraps the DynamoDB client: GetItem and UpdateItem must both be in flight at once, or the
    barrier breaks (after 5 s) and the request fails - ordering, not timing."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.barrier = threading.Barrier(2, timeout=5)
        self.armed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def get_item(self, **kwargs: Any) -> Any:
        if self.armed:
            self.barrier.wait()
        return self._real.get_item(**kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        if self.armed and kwargs.get("ReturnValuesOnConditionCheckFailure"):  # the reservation
            self.barrier.wait()
        return self._real.update_item(**kwargs)


def test_a_known_key_is_checked_while_its_budget_is_reserved(
    client: TestClient, make_key: KeyFactory
) -> None:
    key = make_key()
    rendezvous = Rendezvous(aws.client("dynamodb"))
    aws.set_client("dynamodb", rendezvous)
    assert (
        post(client, key.secret).status_code == 200
    )  # first sight of the key: one after the other
    rendezvous.armed = True
    assert post(client, key.secret).status_code == 200  # known key: both calls at once
    assert rendezvous.barrier.n_waiting == 0 and not rendezvous.barrier.broken


def test_a_revoked_key_gets_401_and_its_speculative_reservation_back(
    client: TestClient, make_key: KeyFactory
) -> None:
    first = make_key("enterprise", limits=Limits(5, 100_000))
    second = make_key.admin.create_key(first.record.account_id)
    assert post(client, first.secret).headers["x-ratelimit-remaining-requests"] == "4"
    make_key.admin.revoke_key(first.record.key_id)
    assert post(client, first.secret).status_code == 401  # immediately, despite the recent success
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
