"""A self-service account's one-off trial credit (issue 25 §3): spent exactly, never refilled by a
month, never passed by racing requests, in the same conditional update as the rate budgets and
the monthly spend (moto, an injected clock; over HTTP for the 429 a client reads)."""

from __future__ import annotations

import calendar
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from sparkai.accounts.service import AccountAdmin
from sparkai.api.app import create_app
from sparkai.api.identity import principal_from_authorizer
from sparkai.auth.authorizer import authorize
from sparkai.chat.schemas import parse_chat_request
from sparkai.chat.service import ChatService
from sparkai.chat.tokens import EstimatingTokenCounter, prompt_token_bound
from sparkai.chat.usage import LogUsageRecorder
from sparkai.endpoints.port import ModelDelta, ModelReply, TokenUsage
from sparkai.errors import TrialCreditExhaustedError
from sparkai.keys.epochs import KeyEpochs
from sparkai.keys.records import Principal
from sparkai.limits.limiter import DynamoDBRateLimiter
from sparkai.limits.trial import TrialCounter
from sparkai.plans import Limits
from sparkai.usage.ledger import Charge
from sparkai_local.aws_server import provisioned_server
from sparkai_local.endpoint import LOCAL_TABLES, client
from tests.conftest import REGION, TABLES, KeyFactory, queue_sagemaker_results
from tests.functional.test_chat_handler import TGI_ANSWER
from tests.support.events import load_event

# 2026-11-30 23:00 UTC: an hour before a month ends.
T0 = float(calendar.timegm(datetime(2026, 11, 30, 23, 0, tzinfo=UTC).timetuple()))
DECEMBER = float(calendar.timegm(datetime(2026, 12, 2, 9, 0, tzinfo=UTC).timetuple()))
PRICE = Decimal("0.0003")  # spark-1, per 1K tokens
MESSAGES = [{"role": "user", "content": "Hello there"}]
MAX_TOKENS = 10
BOUND = prompt_token_bound(MESSAGES)
# One request, when the model counts exactly the prompt's bound and max_tokens: its worst case
# is its real cost, so a credit of three requests is spent to the last digit by three.
ONE = PRICE * (BOUND + MAX_TOKENS) / 1000
CREDIT = 3 * ONE


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class ExactModel:
    """The model-endpoint port (a fake): it counts the prompt at its bound and writes max_tokens."""

    def invoke(self, payload: dict[str, Any]) -> ModelReply:
        return ModelReply("x" * MAX_TOKENS, "length", TokenUsage(BOUND, MAX_TOKENS))

    def stream(self, payload: dict[str, Any]) -> Iterator[ModelDelta]:
        yield from (ModelDelta(content="x") for _ in range(MAX_TOKENS))
        yield ModelDelta(finish_reason="length", usage=TokenUsage(BOUND, MAX_TOKENS))


@pytest.fixture
def dynamodb(moto: None) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(dynamodb: Any, clock: Clock) -> ChatService:
    limiter = DynamoDBRateLimiter(
        TABLES["RateLimitsTable"], lambda: dynamodb, clock=clock, usage_table=TABLES["UsageTable"]
    )
    ids = iter(f"chat-{n:024d}" for n in range(1000))
    return ChatService(
        endpoint_for=lambda _: ExactModel(),  # type: ignore[arg-type,return-value]
        limiter=limiter,
        tokens=EstimatingTokenCounter(),
        usage=LogUsageRecorder(),
        clock=clock,
        new_id=lambda: next(ids),
        schedule=lambda seconds, action: lambda: None,
    )


def trial(credit: Decimal = CREDIT, spend_limit: str | None = "100") -> Principal:
    return Principal(
        "acct_t",
        "key_t",
        "starter",
        Limits(30, 15_000),
        spend_limit_usd=None if spend_limit is None else Decimal(spend_limit),
        trial_credit_usd=credit,
    )


def request(stream: bool = False) -> Any:
    body = {"model": "spark-1", "messages": MESSAGES, "max_tokens": MAX_TOKENS, "stream": stream}
    return parse_chat_request(json.dumps(body).encode())


def ledger_cost(dynamodb: Any, account: str = "acct_t") -> Decimal:
    items = dynamodb.query(
        TableName=TABLES["UsageTable"],
        KeyConditionExpression="pk = :a",
        ExpressionAttributeValues={":a": {"S": account}},
    )["Items"]
    return sum((Decimal(i["cost_usd"]["N"]) for i in items), Decimal(0))


def limiter_item(dynamodb: Any, account: str = "acct_t") -> dict[str, Any]:
    return dynamodb.get_item(
        TableName=TABLES["RateLimitsTable"], Key={"account_id": {"S": account}}
    ).get("Item", {})


def trial_spent(dynamodb: Any, account: str = "acct_t") -> Decimal:
    return TrialCounter(TABLES["RateLimitsTable"], lambda: dynamodb).spent(account)


# -- spent exactly, buffered and streamed ---------------------------------------------------------


def test_a_trial_spends_exactly_its_credit_then_gets_insufficient_quota(
    service: ChatService, dynamodb: Any
) -> None:
    # Given a trial of exactly three requests' cost
    principal = trial()
    # When it runs three: buffered, streamed, buffered
    service.complete(principal, request())
    list(service.open_stream(principal, request(stream=True)).events())
    service.complete(principal, request())
    # Then the ledger holds exactly the credit, and so does the trial's counter
    assert ledger_cost(dynamodb) == CREDIT
    assert trial_spent(dynamodb) == CREDIT
    # And the fourth is refused, buffered and streamed, before any model call, changing nothing
    for stream in (False, True):
        with pytest.raises(TrialCreditExhaustedError) as refused:
            if stream:
                service.open_stream(principal, request(stream=True))
            else:
                service.complete(principal, request())
        assert refused.value.credit_usd == CREDIT and refused.value.used_usd == CREDIT
        assert "trial credit" in refused.value.message and "upgrade" in refused.value.message
    assert ledger_cost(dynamodb) == CREDIT
    assert trial_spent(dynamodb) == CREDIT


def test_what_is_left_is_spent_by_a_request_that_fits_it(
    service: ChatService, dynamodb: Any
) -> None:
    # Given a credit of one request plus half of one
    principal = trial(credit=ONE + ONE / 2)
    service.complete(principal, request())
    # Then a second whole request cannot fit at its worst case; the message says what is left
    with pytest.raises(TrialCreditExhaustedError) as refused:
        service.complete(principal, request())
    assert f"${ONE / 2}".rstrip("0") in refused.value.message
    assert "max_tokens" in refused.value.message
    assert trial_spent(dynamodb) == ONE


# -- no month refills it ----------------------------------------------------------------------------


def test_a_month_rollover_does_not_refill_the_trial(
    service: ChatService, dynamodb: Any, clock: Clock
) -> None:
    # Given a trial spent to its credit in November, and a paid account at its monthly limit
    for _ in range(3):
        service.complete(trial(), request())
    paid = Principal("acct_paid", "key_p", "starter", Limits(30, 15_000), spend_limit_usd=CREDIT)
    for _ in range(3):
        service.complete(paid, request())
    # When the month changes
    clock.now = DECEMBER
    # Then the paid account's monthly limit starts again, and the trial stays used up
    service.complete(paid, request())
    with pytest.raises(TrialCreditExhaustedError):
        service.complete(trial(), request())
    assert trial_spent(dynamodb) == CREDIT == ledger_cost(dynamodb)


def test_a_trials_limiter_item_never_expires(
    service: ChatService, dynamodb: Any, clock: Clock
) -> None:
    # The counter is the only record of what the trial spent: an expired item would refill it.
    service.complete(trial(), request())
    assert "expires_at" not in limiter_item(dynamodb)
    # A key change moves the epoch but leaves the item without an expiry...
    KeyEpochs(TABLES["RateLimitsTable"], lambda: dynamodb, clock=clock).bump("acct_t")
    item = limiter_item(dynamodb)
    assert "expires_at" not in item and item["keys_epoch"] == {"N": "1"}
    # ... while a paid account's item still gets one (it holds nothing that outlives a month).
    KeyEpochs(TABLES["RateLimitsTable"], lambda: dynamodb, clock=clock).bump("acct_paid")
    assert "expires_at" in limiter_item(dynamodb, "acct_paid")


def test_a_settle_after_the_month_changed_still_corrects_the_trial(
    dynamodb: Any, clock: Clock
) -> None:
    limiter = DynamoDBRateLimiter(
        TABLES["RateLimitsTable"], lambda: dynamodb, clock=clock, usage_table=TABLES["UsageTable"]
    )
    # Given a reservation of the worst case in November, and the month's counter moved on
    reservation = limiter.reserve(trial(), 100, spend_usd=ONE)
    clock.now = DECEMBER
    limiter.reserve(trial(), 1, spend_usd=Decimal(0))  # December's first request
    # When it settles in December at a tenth of its worst case
    limiter.settle(
        reservation,
        10,
        served=True,
        charge=Charge("chat-late", "acct_t", "key_t", "spark-1", "2026-11-30", 5, 5, PRICE),
    )
    # Then the trial is charged the real cost, not the reservation (which no month corrects)
    assert trial_spent(dynamodb) == PRICE * 10 / 1000 == ledger_cost(dynamodb)


# -- racing cannot pass it --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws_url() -> Iterator[str]:
    with provisioned_server() as server:
        yield server.url


def test_concurrent_requests_cannot_spend_past_the_credit(aws_url: str) -> None:
    # Given a trial of exactly 25 requests' worst case, and 16 "Lambda instances" trying 3 each
    workers, attempts, fits = 16, 3, 25
    principal = Principal(
        "acct_race",
        "key_r",
        "enterprise",
        Limits(10_000, 10**9),
        trial_credit_usd=fits * ONE,
    )
    start = threading.Barrier(workers)

    def run(_: int) -> int:
        dynamodb = client("dynamodb", aws_url)
        limiter = DynamoDBRateLimiter(
            LOCAL_TABLES["RateLimitsTable"], lambda: dynamodb, clock=lambda: T0
        )
        start.wait()
        admitted = 0
        for _ in range(attempts):
            try:
                limiter.reserve(principal, 10, spend_usd=ONE)
                admitted += 1
            except TrialCreditExhaustedError:
                pass
        return admitted

    with ThreadPoolExecutor(workers) as pool:
        admitted = sum(pool.map(run, range(workers)))
    # Then exactly 25 got through, and the counter holds exactly the credit
    assert admitted == fits
    spent = TrialCounter(LOCAL_TABLES["RateLimitsTable"], lambda: client("dynamodb", aws_url))
    assert spent.spent("acct_race") == fits * ONE


# -- the account, its keys and the operator -------------------------------------------------------


def test_a_trial_reaches_the_limiter_through_both_key_checks(make_key: KeyFactory) -> None:
    admin: AccountAdmin = make_key.admin
    account = admin.create_account("starter", trial_credit_usd=Decimal("5"))
    created = admin.create_key(account.account_id)
    assert created.record.trial_credit_usd == Decimal("5")
    # The authorizer's context carries it (API Gateway), and the chat function reads it back.
    event = load_event("authorizer/valid-key")
    event["headers"] = {"Authorization": f"Bearer {created.secret}"}
    answer = authorize(event)
    assert answer["context"]["trial_credit_usd"] == "5"
    principal = principal_from_authorizer({"requestContext": {"authorizer": answer["context"]}})
    assert principal.trial_credit_usd == Decimal("5")
    # A paid key's context says "" (no trial), which reads back as None.
    paid = make_key("starter")
    event["headers"] = {"Authorization": f"Bearer {paid.secret}"}
    context = authorize(event)["context"]
    assert context["trial_credit_usd"] == ""
    assert (
        principal_from_authorizer({"requestContext": {"authorizer": context}}).trial_credit_usd
        is None
    )


@pytest.fixture
def api(moto: None) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def boto3_dynamodb() -> Any:
    return boto3.client("dynamodb", region_name=REGION)


CHAT = {"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 16}


def test_a_used_up_trial_is_429_insufficient_quota_buffered_and_streamed(
    api: TestClient, make_key: KeyFactory
) -> None:
    admin: AccountAdmin = make_key.admin
    account = admin.create_account("starter", trial_credit_usd=Decimal("0.006"))
    auth = {"Authorization": f"Bearer {admin.create_key(account.account_id).secret}"}
    # One answer fits the credit...
    queue_sagemaker_results(json.dumps(TGI_ANSWER))
    first = api.post("/v1/chat", json=CHAT, headers=auth)
    assert first.status_code == 200, first.text
    # ... and when the operator lowers it to what was used, the next is refused, both ways.
    used = TrialCounter(TABLES["RateLimitsTable"], boto3_dynamodb).spent(account.account_id)
    assert used == PRICE * first.json()["usage"]["total_tokens"] / 1000
    admin.set_trial_credit(account.account_id, used)
    for body in (CHAT, {**CHAT, "stream": True}):
        refused = api.post("/v1/chat", json=body, headers=auth)
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"].startswith("application/json")
        assert "retry-after" not in refused.headers
        error = refused.json()["error"]
        assert error["type"] == "insufficient_quota" and error["code"] == "insufficient_quota"
        assert error["param"] is None
        assert "trial credit" in error["message"] and "used up" in error["message"]
        assert "upgrade" in error["message"]
    # When the operator ends the trial (the customer pays), the same key works again at once.
    admin.set_trial_credit(account.account_id, None)
    queue_sagemaker_results(json.dumps(TGI_ANSWER))
    assert api.post("/v1/chat", json=CHAT, headers=auth).status_code == 200
    # GET /v1/usage reconciles: the ledger is the two answers the API returned.
    usage = api.get("/v1/usage", headers=auth).json()
    assert usage["totals"]["requests"] == 2


def test_a_trial_costs_no_extra_round_trip(dynamodb: Any, clock: Clock) -> None:
    """One DynamoDB call before the model (the reservation) and one after (the settle), as for a
    paid account: the credit rides in the same conditional write and the same transaction."""
    from tests.support.dynamodb_calls import DynamoDBCalls

    before_model: list[list[tuple[str, str]]] = []

    class Recording(ExactModel):
        def invoke(self, payload: dict[str, Any]) -> ModelReply:
            before_model.append(calls.operations())
            return super().invoke(payload)

    limiter = DynamoDBRateLimiter(
        TABLES["RateLimitsTable"], lambda: dynamodb, clock=clock, usage_table=TABLES["UsageTable"]
    )
    service = ChatService(
        endpoint_for=lambda _: Recording(),  # type: ignore[arg-type,return-value]
        limiter=limiter,
        tokens=EstimatingTokenCounter(),
        usage=LogUsageRecorder(),
        clock=clock,
        schedule=lambda seconds, action: lambda: None,
    )
    for _ in range(2):  # the first, and one with this process's hint of the item
        with DynamoDBCalls(dynamodb) as calls:
            service.complete(trial(), request())
        assert before_model.pop() == [("UpdateItem", TABLES["RateLimitsTable"])]
        assert calls.operations() == [
            ("UpdateItem", TABLES["RateLimitsTable"]),
            ("TransactWriteItems", ""),
        ]


def test_ending_a_trial_reaches_a_key_the_lagging_index_missed(
    service: ChatService, dynamodb: Any, clock: Clock
) -> None:
    """The trial credit is published with the account's other limits (sparkai.limits.published):
    a key whose copy the by_account index missed is corrected by the limiter on its next request."""
    from sparkai.accounts.store import AccountStore
    from sparkai.auth.authenticator import Authenticator
    from tests.functional.test_fault_promises import LaggingIndexKeyStore

    store = LaggingIndexKeyStore(TABLES["ApiKeysTable"], lambda: dynamodb)
    admin = AccountAdmin(
        accounts=AccountStore(TABLES["AccountsTable"], lambda: dynamodb),
        keys=store,
        epochs=KeyEpochs(TABLES["RateLimitsTable"], lambda: dynamodb),
    )
    account = admin.create_account("starter", trial_credit_usd=Decimal(0)).account_id
    store.lag()  # the key below never reaches the index: set-trial cannot update its copy
    secret = admin.create_key(account).secret
    principal = Authenticator(store).authenticate(f"Bearer {secret}")
    assert principal.trial_credit_usd == Decimal(0)
    with pytest.raises(TrialCreditExhaustedError):
        service.complete(principal, request())
    # When the operator ends the trial (a paying customer)
    admin.set_trial_credit(account, None)
    # Then the key's stale copy (still a $0 trial) is answered by the account's published limits
    assert Authenticator(store).authenticate(f"Bearer {secret}").trial_credit_usd == Decimal(0)
    completed = service.complete(principal, request())
    assert completed.completion.usage.total_tokens == BOUND + MAX_TOKENS
