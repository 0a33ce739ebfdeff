"""The GCRA limiter against moto's DynamoDB with a controllable clock."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from sparkai.errors import LimiterUnavailableError, RateLimitExceededError
from sparkai.keys.records import Principal
from sparkai.limits.limiter import DynamoDBRateLimiter
from sparkai.plans import Limits
from tests.conftest import REGION, TABLES
from tests.support.clock import T0, Clock

STARTER = Limits(30, 15_000)


def principal(
    limits: Limits = STARTER, account: str = "acct_a", plan: str = "starter"
) -> Principal:
    return Principal(account_id=account, key_id="key_a", plan=plan, limits=limits)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def limiter(dynamodb: Any, clock: Clock) -> DynamoDBRateLimiter:
    return DynamoDBRateLimiter(TABLES["RateLimitsTable"], lambda: dynamodb, clock=clock)


def stored(dynamodb: Any, account: str = "acct_a") -> dict[str, Any] | None:
    return dynamodb.get_item(
        TableName=TABLES["RateLimitsTable"], Key={"account_id": {"S": account}}
    ).get("Item")


def test_a_first_request_reserves_one_request_and_its_tokens(
    limiter: DynamoDBRateLimiter, dynamodb: Any
) -> None:
    reservation = limiter.reserve(principal(), 1_000)
    assert reservation.status.requests.limit == 30
    assert reservation.status.requests.remaining == 29
    assert reservation.status.tokens.remaining == 14_000
    assert reservation.status.requests.reset_seconds == pytest.approx(
        2.0
    )  # one request refills in 60/30 s
    assert reservation.status.tokens.reset_seconds == pytest.approx(
        4.0
    )  # 1,000 tokens refill in 4 s
    item = stored(dynamodb)
    assert item is not None
    # The item expires through the table's TTL, but not before the month its spend counter
    # counts has ended (T0 is in November 2026): a week into December.
    assert int(item["expires_at"]["N"]) == 1_796_083_200 + 7 * 86_400


def test_exactly_the_plan_requests_fit_in_an_instant(limiter: DynamoDBRateLimiter) -> None:
    for n in range(30):
        assert limiter.reserve(principal(), 1).status.requests.remaining == 29 - n
    with pytest.raises(RateLimitExceededError) as refused:
        limiter.reserve(principal(), 1)
    error = refused.value
    assert error.limit == "requests"
    assert error.retry_after == 2
    assert (
        "requests on the Starter plan" in error.message
        and "30 requests per minute" in error.message
    )
    assert error.status.requests.remaining == 0  # type: ignore[attr-defined]


def test_budget_refills_continuously(limiter: DynamoDBRateLimiter, clock: Clock) -> None:
    for _ in range(30):
        limiter.reserve(principal(), 1)
    clock.now += 1.9
    with pytest.raises(RateLimitExceededError):
        limiter.reserve(principal(), 1)
    clock.now += 0.1  # 2 s after the burst: exactly one request has refilled
    limiter.reserve(principal(), 1)
    with pytest.raises(RateLimitExceededError):
        limiter.reserve(principal(), 1)


def test_tokens_are_a_separate_budget_named_in_the_refusal(limiter: DynamoDBRateLimiter) -> None:
    limiter.reserve(principal(), 10_000)
    with pytest.raises(RateLimitExceededError) as refused:
        limiter.reserve(principal(), 6_000)
    assert refused.value.limit == "tokens"
    assert refused.value.retry_after == 4  # 1,000 tokens over: 4 s at 15,000/min
    assert "15,000 tokens per minute" in refused.value.message
    # The requests budget is untouched by the token refusal and still has room.
    assert limiter.reserve(principal(), 5_000).status.requests.remaining == 28


def test_a_refused_request_consumes_nothing(limiter: DynamoDBRateLimiter, dynamodb: Any) -> None:
    limiter.reserve(principal(), 14_000)
    before = stored(dynamodb)
    with pytest.raises(RateLimitExceededError):
        limiter.reserve(principal(), 2_000)
    assert stored(dynamodb) == before


def test_settling_returns_unused_tokens(limiter: DynamoDBRateLimiter) -> None:
    reservation = limiter.reserve(principal(), 12_000)
    limiter.settle(reservation, 2_000, served=True)
    # 2,000 used, so 13,000 are free again.
    assert limiter.reserve(principal(), 13_000).status.tokens.remaining == 0
    with pytest.raises(RateLimitExceededError):
        limiter.reserve(principal(), 1)


def test_settling_charges_tokens_beyond_the_reservation(limiter: DynamoDBRateLimiter) -> None:
    reservation = limiter.reserve(principal(), 1_000)
    limiter.settle(reservation, 3_000, served=True)
    assert limiter.reserve(principal(), 1).status.tokens.remaining == 15_000 - 3_000 - 1


def test_a_request_that_was_not_served_gives_back_request_and_tokens(
    limiter: DynamoDBRateLimiter,
) -> None:
    for _ in range(29):
        limiter.reserve(principal(), 1)
    failed = limiter.reserve(principal(), 5_000)
    limiter.settle(failed, 0, served=False)
    status = limiter.reserve(principal(), 1).status
    assert status.requests.remaining == 0
    assert status.tokens.remaining == 15_000 - 29 - 1


def test_accounts_do_not_share_budgets(limiter: DynamoDBRateLimiter) -> None:
    for _ in range(30):
        limiter.reserve(principal(account="acct_a"), 1)
    assert limiter.reserve(principal(account="acct_b"), 1).status.requests.remaining == 29


def test_two_instances_with_stale_hints_stay_exact(dynamodb: Any, clock: Clock) -> None:
    # Given two Lambda instances, each remembering what it last saw
    first = DynamoDBRateLimiter(TABLES["RateLimitsTable"], lambda: dynamodb, clock=clock)
    second = DynamoDBRateLimiter(TABLES["RateLimitsTable"], lambda: dynamodb, clock=clock)
    allowed = 0
    for i in range(40):
        try:
            (first if i % 2 else second).reserve(principal(Limits(10, 100_000)), 1)
            allowed += 1
        except RateLimitExceededError:
            pass
    assert allowed == 10


def test_enterprise_limits_come_from_the_principal(limiter: DynamoDBRateLimiter) -> None:
    custom = principal(Limits(3, 1_000_000), plan="enterprise")
    for _ in range(3):
        limiter.reserve(custom, 1)
    with pytest.raises(RateLimitExceededError) as refused:
        limiter.reserve(custom, 1)
    assert (
        "Enterprise plan" in refused.value.message
        and "3 requests per minute" in refused.value.message
    )


def test_an_unreachable_table_refuses_the_request(clock: Clock) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error("update_item", "InternalServerError", http_status_code=500)
    limiter = DynamoDBRateLimiter(TABLES["RateLimitsTable"], lambda: client, clock=clock)
    with stubber, pytest.raises(LimiterUnavailableError):
        limiter.reserve(principal(), 1)
