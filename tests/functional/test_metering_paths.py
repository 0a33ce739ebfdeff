"""Every path meters exactly once, into the ledger and the limiter (moto, a scripted model port,
an injected clock): buffered, streamed to the end, disconnected, model failure after some tokens,
cut by the deadline, and a buffered timeout (charged the prompt). Then GET /v1/usage over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sparkai.api.app import create_app
from sparkai.chat.schemas import parse_chat_request
from sparkai.chat.service import ChatService
from sparkai.chat.tokens import EstimatingTokenCounter, prompt_token_bound
from sparkai.chat.usage import LogUsageRecorder
from sparkai.endpoints.port import ModelDelta, ModelReply, TokenUsage
from sparkai.errors import (
    InvalidRequestError,
    ModelEndpointError,
    ModelTimeoutError,
    SpendLimitExceededError,
    StreamDeadlineExceededError,
)
from sparkai.keys.records import Principal
from sparkai.limits.limiter import DynamoDBRateLimiter
from sparkai.plans import Limits
from tests.conftest import TABLES, KeyFactory, queue_sagemaker_results
from tests.functional.test_chat_handler import TGI_ANSWER
from tests.support.clock import T0, Clock
from tests.support.ledger import ledger_rows, ledger_totals, spend_counter

PRINCIPAL = Principal("acct_m", "key_m", "pro", Limits(90, 75_000), spend_limit_usd=Decimal("10"))


class ScriptedStream:
    def __init__(self, pieces: list[ModelDelta], clock: Clock, fail_after: int | None) -> None:
        self.pieces, self.clock, self.fail_after = pieces, clock, fail_after
        self.closed = False

    def __iter__(self) -> Iterator[ModelDelta]:
        for n, piece in enumerate(self.pieces):
            if self.closed:
                return
            if self.fail_after is not None and n == self.fail_after:
                raise ModelEndpointError("The model stream failed before the answer was complete.")
            self.clock.now += 1  # each token takes a (fake) second
            yield piece

    def close(self) -> None:
        self.closed = True


class ScriptedModel:
    """The model-endpoint port with scripted answers (a fake, not a mock)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.reply: ModelReply | Exception = ModelReply("Hi there", "stop", TokenUsage(20, 2))
        self.pieces = [ModelDelta(content=f"t{i} ") for i in range(5)] + [
            ModelDelta(finish_reason="stop", usage=TokenUsage(20, 5))
        ]
        self.fail_after: int | None = None
        self.last: ScriptedStream | None = None

    def invoke(self, payload: dict[str, Any]) -> ModelReply:
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply

    def stream(self, payload: dict[str, Any]) -> ScriptedStream:
        self.last = ScriptedStream(self.pieces, self.clock, self.fail_after)
        return self.last


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def model(clock: Clock) -> ScriptedModel:
    return ScriptedModel(clock)


@pytest.fixture
def service(dynamodb: Any, clock: Clock, model: ScriptedModel) -> ChatService:
    limiter = DynamoDBRateLimiter(
        TABLES["RateLimitsTable"], lambda: dynamodb, clock=clock, usage_table=TABLES["UsageTable"]
    )
    ids = iter(f"chat-{n:024d}" for n in range(1000))
    return ChatService(
        endpoint_for=lambda _: model,
        limiter=limiter,
        tokens=EstimatingTokenCounter(),
        usage=LogUsageRecorder(),
        clock=clock,
        new_id=lambda: next(ids),
        schedule=lambda seconds, action: lambda: None,  # the watchdog is fired by hand below
    )


def request(stream: bool = False, max_tokens: int = 100, name: str | None = None) -> Any:
    message: dict[str, Any] = {"role": "user", "content": "Hello there"}
    if name is not None:
        message["name"] = name
    body = {"model": "spark-1", "messages": [message], "max_tokens": max_tokens, "stream": stream}
    return parse_chat_request(json.dumps(body).encode())


def ledger(dynamodb: Any) -> tuple[int, int, int, Decimal]:
    """(requests, prompt tokens, completion tokens, cost) in acct_m's ledger."""
    totals = ledger_totals(ledger_rows(dynamodb, "acct_m"))
    return (
        totals["requests"],
        totals["prompt_tokens"],
        totals["completion_tokens"],
        totals["cost_usd"],
    )


def spend(dynamodb: Any) -> Decimal:
    return spend_counter(dynamodb, "acct_m")


def cost(tokens: int) -> Decimal:
    return Decimal("0.0003") * tokens / 1000


def test_buffered_meters_the_models_counts(service: ChatService, dynamodb: Any) -> None:
    completed = service.complete(PRINCIPAL, request())
    assert completed.completion.usage.total_tokens == 22
    assert ledger(dynamodb) == (1, 20, 2, cost(22))
    assert spend(dynamodb) == cost(22)  # the worst-case reservation settled to the real cost


def test_streamed_to_the_end_meters_the_models_counts(service: ChatService, dynamodb: Any) -> None:
    events = list(service.open_stream(PRINCIPAL, request(stream=True)).events())
    assert events[-1]["usage"] == {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
    assert ledger(dynamodb) == (1, 20, 5, cost(25))
    assert spend(dynamodb) == cost(25)


def test_a_disconnected_stream_meters_what_was_sent(service: ChatService, dynamodb: Any) -> None:
    stream = service.open_stream(PRINCIPAL, request(stream=True))
    events = stream.events()
    sent = [next(events) for _ in range(3)]  # role + two content pieces, then the client leaves
    stream.close()
    assert [e["choices"][0]["delta"].get("content") for e in sent[1:]] == ["t0 ", "t1 "]
    prompt = EstimatingTokenCounter().count_messages([{"role": "user", "content": "Hello there"}])
    # This model sends its count only at the end: the text sent, one token per UTF-8 byte (the
    # bound docs/api.md gives for an early end without the model's count).
    assert ledger(dynamodb) == (1, prompt, 6, cost(prompt + 6))
    assert spend(dynamodb) == cost(prompt + 6)
    stream.close()  # a second close settles nothing more
    assert ledger(dynamodb)[0] == 1


def test_a_model_failure_after_some_tokens_meters_them(
    service: ChatService, model: ScriptedModel, dynamodb: Any
) -> None:
    model.fail_after = 3
    stream = service.open_stream(PRINCIPAL, request(stream=True))
    with pytest.raises(ModelEndpointError):
        list(stream.events())
    stream.close()
    prompt = EstimatingTokenCounter().count_messages([{"role": "user", "content": "Hello there"}])
    assert ledger(dynamodb) == (1, prompt, len(b"t0 t1 t2 "), cost(prompt + 9))


def test_a_stream_cut_by_its_deadline_ends_with_one_error_and_meters_what_was_sent(
    service: ChatService, dynamodb: Any, clock: Clock
) -> None:
    # Given a deadline 2.5 fake seconds away (each token takes one)
    stream = service.open_stream_reserved(
        service.reserve(PRINCIPAL, request(stream=True)), deadline=T0 + 2.5
    )
    received = []
    with pytest.raises(StreamDeadlineExceededError):
        for event in stream.events():
            received.append(event)
    contents = [e["choices"][0]["delta"].get("content") for e in received[1:]]
    assert contents == ["t0 ", "t1 "]  # the first token arrived at t+1; the third is past t+2.5
    prompt = EstimatingTokenCounter().count_messages([{"role": "user", "content": "Hello there"}])
    assert ledger(dynamodb) == (1, prompt, len(b"t0 t1 "), cost(prompt + 6))


def test_the_deadline_watchdog_settles_a_stalled_stream(
    service: ChatService, dynamodb: Any
) -> None:
    stream = service.open_stream_reserved(
        service.reserve(PRINCIPAL, request(stream=True)), deadline=T0 + 100
    )
    events = stream.events()
    next(events), next(events)  # role, one piece; then the model stalls and the timer fires
    stream.cut()
    assert ledger(dynamodb)[0] == 1  # settled by the watchdog, before the function would die
    with pytest.raises(StreamDeadlineExceededError):
        list(events)


@pytest.mark.parametrize(
    "failure", [ModelTimeoutError("slow"), ModelEndpointError("broken")], ids=["timeout", "error"]
)
def test_a_buffered_failure_after_the_call_charges_the_request_and_prompt_only(
    service: ChatService, model: ScriptedModel, dynamodb: Any, failure: Exception
) -> None:
    model.reply = failure
    with pytest.raises(type(failure)):
        service.complete(PRINCIPAL, request(max_tokens=4000))
    prompt = EstimatingTokenCounter().count_messages([{"role": "user", "content": "Hello there"}])
    assert ledger(dynamodb) == (1, prompt, 0, cost(prompt))
    assert spend(dynamodb) == cost(prompt)  # the 4,000 completion tokens' spend came back
    item = dynamodb.get_item(
        TableName=TABLES["RateLimitsTable"], Key={"account_id": {"S": "acct_m"}}
    )["Item"]
    # Tokens: only the prompt stays charged (75,000/min: prompt x 0.8 ms).
    assert Decimal(item["tok_tat"]["N"]) - Decimal(int(T0 * 1000)) == Decimal(prompt) * Decimal(
        "0.8"
    )


def test_the_message_name_is_counted_and_capped() -> None:
    counter = EstimatingTokenCounter()
    plain = counter.count_messages([{"role": "user", "content": "Hi"}])
    named = counter.count_messages([{"role": "user", "content": "Hi", "name": "x" * 60}])
    assert named == plain + 20
    with pytest.raises(InvalidRequestError) as refused:
        request(name="x" * 65)
    assert refused.value.param == "messages[0].name"


# -- GET /v1/usage over HTTP ---------------------------------------------------------------------


@pytest.fixture
def client(moto: None) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_usage_totals_equal_the_usage_the_api_returned(
    client: TestClient, make_key: KeyFactory
) -> None:
    key = make_key("starter")
    auth = {"Authorization": f"Bearer {key.secret}"}
    returned = []
    for _ in range(3):
        queue_sagemaker_results(json.dumps(TGI_ANSWER))
        answer = client.post(
            "/v1/chat",
            json={"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}]},
            headers=auth,
        )
        assert answer.status_code == 200, answer.text
        returned.append(answer.json()["usage"])

    usage = client.get("/v1/usage", headers=auth)

    assert usage.status_code == 200, usage.text
    body = usage.json()
    assert set(body) == {
        "object", "start", "end", "data", "totals", "spend_limit_usd", "month_to_date_usd"
    }  # fmt: skip
    assert body["object"] == "usage" and body["end"] >= body["start"]
    total = sum(u["total_tokens"] for u in returned)
    assert body["totals"] == {
        "requests": 3,
        "prompt_tokens": sum(u["prompt_tokens"] for u in returned),
        "completion_tokens": sum(u["completion_tokens"] for u in returned),
        "total_tokens": total,
        "cost_usd": str(Decimal("0.0003") * total / 1000),
    }
    (row,) = body["data"]
    assert row["model"] == "spark-1" and row["key_id"] == key.record.key_id
    assert body["spend_limit_usd"] == "100"  # the Starter default
    assert body["month_to_date_usd"] == body["totals"]["cost_usd"]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("start=2026-13-01", "start"),
        ("start=yesterday", "start"),
        ("end=2026-02-30", "end"),
        ("start=2026-W01-1", "start"),  # an ISO week date: valid ISO 8601, not YYYY-MM-DD
        ("end=20261101", "end"),
        ("start=2026-11-10&end=2026-11-01", "end"),
        ("start=2026-01-01&end=2026-04-04", "end"),  # 94 days
    ],
)
def test_usage_validation_errors_are_400_naming_the_param(
    client: TestClient, make_key: KeyFactory, query: str, param: str
) -> None:
    key = make_key()
    response = client.get(f"/v1/usage?{query}", headers={"Authorization": f"Bearer {key.secret}"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_over_the_spend_limit_is_429_insufficient_quota_without_retry_after(
    client: TestClient, make_key: KeyFactory
) -> None:
    key = make_key("starter")
    make_key.admin.set_budget(key.record.account_id, Decimal("0.0001"))
    response = client.post(
        "/v1/chat",
        json={"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}]},
        headers={"Authorization": f"Bearer {key.secret}"},
    )
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "insufficient_quota" and "$0.0001" in error["message"]
    assert "retry-after" not in response.headers


def test_a_model_counting_more_prompt_tokens_than_estimated_never_passes_the_spend_limit(
    service: ChatService, model: ScriptedModel, dynamodb: Any
) -> None:
    # Given a model whose tokenizer counts "Hello there" as 40 tokens (our estimate says ~11)
    model.reply = ModelReply("Hi there", "stop", TokenUsage(40, 20))
    estimate = EstimatingTokenCounter().count_messages([{"role": "user", "content": "Hello there"}])
    bound = prompt_token_bound([{"role": "user", "content": "Hello there"}])
    assert estimate + 20 < 60 <= bound + 20
    # When the limit fits the estimate but not the prompt's upper bound, the request is refused:
    # admitted, it would settle at 60 tokens' cost, past the limit.
    tight = Principal(
        "acct_m", "key_m", "pro", Limits(90, 75_000), spend_limit_usd=cost(estimate + 20 + 5)
    )
    with pytest.raises(SpendLimitExceededError):
        service.complete(tight, request(max_tokens=20))
    assert ledger(dynamodb) == (0, 0, 0, Decimal(0))
    # And with room for the bound it runs and settles at the model's count, within the limit.
    roomy = Principal(
        "acct_m", "key_m", "pro", Limits(90, 75_000), spend_limit_usd=cost(bound + 20)
    )
    completed = service.complete(roomy, request(max_tokens=20))
    assert completed.completion.usage.total_tokens == 60
    assert ledger(dynamodb) == (1, 40, 20, cost(60))
    assert spend(dynamodb) == cost(60) <= roomy.spend_limit_usd
