"""Idempotency-Key on the chat routes, end to end in one process: the real app under uvicorn, the
local SageMaker runtime with a scripted model (its invocation count is the model-call count), and
moto for DynamoDB (the template's IdempotencyTable)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import httpx
import pytest
from botocore.stub import Stubber

from sparkai import aws
from sparkai.api import dependencies
from sparkai.api.app import create_app
from sparkai.chat.schemas import parse_chat_request
from sparkai.idempotency.dynamodb import DynamoDBIdempotencyStore
from sparkai.idempotency.port import fingerprint
from sparkai.plans import Limits
from sparkai_local.sagemaker import Script
from sparkai_local.sagemaker.scripted import InvokeError
from tests.conftest import REGION, TABLES, KeyFactory
from tests.support.fixtures_servers import SageMakerServer
from tests.support.ledger import spend_counter
from tests.support.servers import serve

HELLO = {"model": "spark-1", "messages": [{"role": "user", "content": "Hello, how are you?"}]}
TEXT = "Hello! I'm doing great. How can I help you today?"


@dataclass
class Api:
    url: str
    model: SageMakerServer

    def post(
        self, key: str, body: dict[str, Any], *, idem: str | None, path: str = "/v1/chat"
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"}
        if idem is not None:
            headers["Idempotency-Key"] = idem
        return httpx.post(f"{self.url}{path}", json=body, headers=headers, timeout=30)

    def calls(self) -> int:
        return sum(self.model.backend.invocations.values())


@pytest.fixture
def api(
    moto: None, sagemaker_server: SageMakerServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server.url)
    with serve(create_app()) as url:
        yield Api(url, sagemaker_server)


def events_of(response: httpx.Response) -> list[str]:
    return [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]


def charged(api: Api, key: str, dynamodb: Any, account_id: str) -> tuple[Any, Decimal]:
    """The account's ledger as GET /v1/usage reports it, and its month's spend counter."""
    usage = httpx.get(f"{api.url}/v1/usage", headers={"Authorization": f"Bearer {key}"})
    assert usage.status_code == 200, usage.text
    body = usage.json()
    return (body["data"], body["totals"]), spend_counter(dynamodb, account_id)


def test_a_retry_gets_the_stored_answer_without_a_model_call_or_a_charge(
    api: Api, make_key: KeyFactory, dynamodb: Any
) -> None:
    # Given an account that can afford exactly one request this minute
    created = make_key("enterprise", limits=Limits(1, 100_000))
    key, account_id = created.secret, created.record.account_id
    first = api.post(key, HELLO, idem="order-42")
    assert first.status_code == 200, first.text
    assert api.calls() == 1
    (ledger, totals), spend = charged(api, key, dynamodb, account_id)
    assert totals["requests"] == 1
    assert totals["total_tokens"] == first.json()["usage"]["total_tokens"]
    assert spend == Decimal(totals["cost_usd"]) > 0

    # When the client retries with the same key (the first answer was lost on the way)
    retry = api.post(key, HELLO, idem="order-42")

    # Then it gets the same answer, marked as a replay, and the model was not asked again
    assert retry.status_code == 200, retry.text
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert api.calls() == 1
    # and nothing was charged: the account's one request is spent, so a new request is refused
    fresh = api.post(key, HELLO, idem=None)
    assert fresh.status_code == 429
    assert fresh.json()["error"]["code"] == "rate_limit_exceeded"
    # while a replay still costs nothing and still works
    assert api.post(key, HELLO, idem="order-42").json()["id"] == first.json()["id"]
    # and where the money is kept, the two replays added nothing: the same ledger, the same spend
    assert charged(api, key, dynamodb, account_id) == ((ledger, totals), spend)


def test_a_replay_gives_its_reservation_back(api: Api, make_key: KeyFactory, dynamodb: Any) -> None:
    # Given an account that can afford two requests this minute, one already used
    created = make_key("enterprise", limits=Limits(2, 100_000))
    key, account_id = created.secret, created.record.account_id
    first = api.post(key, HELLO, idem="order-7")
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    before = charged(api, key, dynamodb, account_id)
    # When the request is replayed (its reservation was made alongside the claim)
    assert api.post(key, HELLO, idem="order-7").headers["idempotent-replayed"] == "true"
    # Then its worst-case spend reservation came back too: ledger and spend counter unchanged
    assert charged(api, key, dynamodb, account_id) == before
    # Then the second request of the minute is still there: the replay gave it back
    assert api.post(key, HELLO, idem=None).status_code == 200
    assert api.post(key, HELLO, idem=None).status_code == 429


def test_the_same_request_written_differently_is_the_same_request(
    api: Api, make_key: KeyFactory
) -> None:
    key = make_key().secret
    first = api.post(key, HELLO, idem="k1").json()
    reordered = {"messages": HELLO["messages"], "model": "spark-1", "unknown_field": 1}
    assert api.post(key, reordered, idem="k1").json()["id"] == first["id"]
    assert api.calls() == 1


def test_the_same_key_with_a_different_body_is_422(api: Api, make_key: KeyFactory) -> None:
    key = make_key().secret
    assert api.post(key, HELLO, idem="k2").status_code == 200
    other = api.post(key, {**HELLO, "max_tokens": 5}, idem="k2")
    assert other.status_code == 422
    error = other.json()["error"]
    assert error["code"] == "idempotency_key_reused" and error["param"] == "Idempotency-Key"
    # and on the other route (a different request, even with the same body)
    assert api.post(key, HELLO, idem="k2", path="/v1/chat/completions").status_code == 422
    assert api.calls() == 1


def test_keys_are_scoped_to_the_account(api: Api, make_key: KeyFactory) -> None:
    alice, bob = make_key().secret, make_key().secret
    a = api.post(alice, HELLO, idem="shared").json()
    b = api.post(bob, HELLO, idem="shared")
    assert b.status_code == 200 and "idempotent-replayed" not in b.headers
    assert b.json()["id"] != a["id"]
    assert api.calls() == 2


def test_a_second_key_of_the_same_account_replays(api: Api, make_key: KeyFactory) -> None:
    created = make_key()
    other = make_key.admin.create_key(created.record.account_id).secret
    first = api.post(created.secret, HELLO, idem="acct-wide").json()
    assert api.post(other, HELLO, idem="acct-wide").json() == first


def test_a_failed_run_leaves_the_key_free_for_the_retry(api: Api, make_key: KeyFactory) -> None:
    key = make_key().secret
    api.model.backend.set_script(
        "spark-1", Script(invoke_error=InvokeError("ModelError", original_status_code=500))
    )
    failed = api.post(key, HELLO, idem="k3")
    assert failed.status_code == 502
    api.model.backend.set_script("spark-1", Script())
    retry = api.post(key, HELLO, idem="k3")
    assert retry.status_code == 200 and "idempotent-replayed" not in retry.headers
    assert retry.json()["choices"][0]["message"]["content"] == TEXT


def test_a_refused_request_leaves_the_key_free(api: Api, make_key: KeyFactory) -> None:
    key = make_key("enterprise", limits=Limits(1, 100_000)).secret
    assert api.post(key, HELLO, idem=None).status_code == 200
    refused = api.post(key, HELLO, idem="k4")
    assert refused.status_code == 429
    item = boto3.client("dynamodb", region_name=REGION).scan(TableName=TABLES["IdempotencyTable"])
    assert item["Items"] == []  # nothing claimed, nothing kept


@pytest.mark.parametrize("value", ["", "x" * 256, "naïve", "tab\there"])
def test_malformed_keys_are_400(api: Api, make_key: KeyFactory, value: str) -> None:
    key = make_key().secret
    response = httpx.post(
        f"{api.url}/v1/chat",
        json=HELLO,
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": value.encode("utf-8")},  # type: ignore[dict-item]
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Idempotency-Key"
    assert api.calls() == 0


def test_a_stream_is_409_while_it_runs_and_replayed_once_done(
    api: Api, make_key: KeyFactory
) -> None:
    key = make_key().secret
    body = {**HELLO, "stream": True}
    api.model.backend.set_script("spark-1", Script(gate_after=2))
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "stream-1"}
    with httpx.stream(
        "POST", f"{api.url}/v1/chat", json=body, headers=headers, timeout=30
    ) as first:
        lines = first.iter_lines()
        assert next(lines).startswith("data: ")  # the stream has started
        assert api.model.backend.wait_for_stream().at_gate.wait(10)

        # While it runs, a retry is told to wait
        running = api.post(key, body, idem="stream-1")
        assert running.status_code == 409
        assert running.json()["error"]["code"] == "idempotency_key_in_use"
        assert running.headers["retry-after"] == "1"

        api.model.backend.release()
        original = [line[6:] for line in lines if line.startswith("data: ")]
    assert original[-1] == "[DONE]"

    # Once done, a retry gets the same completion as one well-formed stream, without the model
    replay = api.post(key, body, idem="stream-1")
    assert replay.status_code == 200
    assert replay.headers["content-type"].startswith("text/event-stream")
    assert replay.headers["idempotent-replayed"] == "true"
    events = events_of(replay)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["id"] for c in chunks} == {json.loads(original[0])["id"]}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == TEXT
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == json.loads(original[-2])["usage"]
    assert api.calls() == 1


def test_a_stream_the_client_left_is_not_stored(
    api: Api, make_key: KeyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app's store (same process): note when a claim is given back.
    store = dependencies.get_idempotency_store()
    abandoned = threading.Event()
    original_abandon = store.abandon

    def abandon(claim: Any) -> None:
        original_abandon(claim)
        abandoned.set()

    monkeypatch.setattr(store, "abandon", abandon)
    key = make_key().secret
    body = {**HELLO, "stream": True}
    api.model.backend.set_script("spark-1", Script(gate_after=1))
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "stream-2"}
    with httpx.stream(
        "POST", f"{api.url}/v1/chat", json=body, headers=headers, timeout=30
    ) as first:
        next(first.iter_lines())
    # The client left mid-stream: the claim is given back when the server closes the stream
    assert abandoned.wait(10)
    api.model.backend.set_script("spark-1", Script())
    retry = api.post(key, body, idem="stream-2")
    assert retry.status_code == 200 and "idempotent-replayed" not in retry.headers
    assert events_of(retry)[-1] == "[DONE]"


def test_an_unreachable_idempotency_table_is_a_503_that_charges_nothing(
    api: Api, make_key: KeyFactory
) -> None:
    key = make_key("enterprise", limits=Limits(1, 100_000)).secret
    real = aws.client("dynamodb")
    broken = boto3.client("dynamodb", region_name=REGION)
    broken.get_item = real.get_item  # type: ignore[method-assign]
    broken.update_item = real.update_item  # type: ignore[method-assign]
    stubber = Stubber(broken)
    stubber.add_client_error("put_item", "InternalServerError", http_status_code=500)
    aws.set_client("dynamodb", broken)
    with stubber:
        response = api.post(key, HELLO, idem="k5")
    aws.set_client("dynamodb", real)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "idempotency_unavailable"
    assert response.headers["retry-after"] == "1"
    assert api.calls() == 0
    # the reservation was given back: the account's one request is still there
    assert api.post(key, HELLO, idem=None).status_code == 200


def test_a_claim_from_a_run_that_died_is_taken_over_after_its_lease(moto: None) -> None:
    now = [1_795_680_000.0]
    client = boto3.client("dynamodb", region_name=REGION)
    store = DynamoDBIdempotencyStore(
        TABLES["IdempotencyTable"], lambda: client, lease_seconds=330, clock=lambda: now[0]
    )
    digest = fingerprint("/v1/chat", parse_chat_request(json.dumps(HELLO).encode()).model_dump())
    assert store.claim("acct_a", "k", digest).status == "claimed"  # and then the Lambda died
    assert store.claim("acct_a", "k", digest).status == "in_progress"
    now[0] += 331
    assert store.claim("acct_a", "k", "another body").status == "mismatch"
    taken = store.claim("acct_a", "k", digest)
    assert taken.status == "claimed"
    store.complete(taken.claim, {"id": "chat-1"})  # type: ignore[arg-type]
    assert store.claim("acct_a", "k", digest).answer == {"id": "chat-1"}
    now[0] += 24 * 3600 + 1  # past the TTL (DynamoDB deletes expired items lazily): a new request
    assert store.claim("acct_a", "k", "another body").status == "claimed"


def test_a_late_writer_cannot_overwrite_its_successor(moto: None) -> None:
    now = [1_795_680_000.0]
    client = boto3.client("dynamodb", region_name=REGION)
    store = DynamoDBIdempotencyStore(
        TABLES["IdempotencyTable"], lambda: client, lease_seconds=10, clock=lambda: now[0]
    )
    stale = store.claim("acct_a", "k", "fp").claim
    now[0] += 11
    fresh = store.claim("acct_a", "k", "fp").claim
    assert stale is not None and fresh is not None
    store.complete(stale, {"id": "stale"})
    store.abandon(stale)
    store.complete(fresh, {"id": "fresh"})
    assert store.claim("acct_a", "k", "fp").answer == {"id": "fresh"}


def test_no_prompt_is_stored_in_the_clear(api: Api, make_key: KeyFactory) -> None:
    key = make_key().secret
    secret_prompt = {
        "model": "spark-1",
        "messages": [{"role": "user", "content": "my PIN is 9931"}],
    }
    api.post(key, secret_prompt, idem="k6")
    (item,) = boto3.client("dynamodb", region_name=REGION).scan(
        TableName=TABLES["IdempotencyTable"]
    )["Items"]
    assert "9931" not in json.dumps(item)
    assert len(item["fingerprint"]["S"]) == 64
    assert int(item["expires_at"]["N"]) - int(item["created_at"]["N"]) == 24 * 3600
