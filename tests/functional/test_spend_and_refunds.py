"""The money path at the limiter: refunds capped to what is unelapsed (issue 11), monthly spend
reserved in the same conditional update as the rate budgets, month rollover, the settle
transaction into the usage ledger and its idempotency (issue 12). moto, injected clock."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from sparkai.errors import RateLimitExceededError, SpendLimitExceededError
from sparkai.keys.records import Principal
from sparkai.limits.limiter import DynamoDBRateLimiter
from sparkai.plans import Limits
from sparkai.usage.ledger import Charge
from tests.conftest import TABLES
from tests.support.clock import Clock
from tests.support.ledger import ledger_rows

STARTER = Limits(30, 15_000)
# 2026-11-30 23:59:00 UTC: one minute before a month ends.
NOV_END = calendar.timegm(datetime(2026, 11, 30, 23, 59, tzinfo=UTC).timetuple())
T0 = NOV_END - 3600.0
PRICE = Decimal("0.0003")  # spark-1


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def limiter(dynamodb: Any, clock: Clock) -> DynamoDBRateLimiter:
    return DynamoDBRateLimiter(
        TABLES["RateLimitsTable"], lambda: dynamodb, clock=clock, usage_table=TABLES["UsageTable"]
    )


def principal(limits: Limits = STARTER, spend_limit: str | None = None) -> Principal:
    return Principal(
        account_id="acct_a",
        key_id="key_a",
        plan="starter",
        limits=limits,
        spend_limit_usd=None if spend_limit is None else Decimal(spend_limit),
    )


def limiter_item(dynamodb: Any) -> dict[str, Any]:
    return dynamodb.get_item(
        TableName=TABLES["RateLimitsTable"], Key={"account_id": {"S": "acct_a"}}
    )["Item"]


def charge(cid: str, prompt: int, completion: int, day: str = "2026-11-30") -> Charge:
    return Charge(cid, "acct_a", "key_a", "spark-1", day, prompt, completion, PRICE)


# -- issue 11: refunds never exceed what is still unelapsed ----------------------------------------


def test_a_late_refund_cannot_hand_out_budget_others_already_used(
    limiter: DynamoDBRateLimiter, clock: Clock
) -> None:
    # Given Starter (15,000 tokens/min): A reserves 15k at t=0, B reserves 15k at t=61
    start = clock.now
    a = limiter.reserve(principal(), 15_000)
    clock.now = start + 61
    limiter.reserve(principal(), 15_000)
    # When A ends at t=70 having used 100 tokens
    clock.now = start + 70
    limiter.settle(a, 100, served=True)
    # Then A's reservation had fully elapsed by t=61: nothing is refunded, and C must wait.
    with pytest.raises(RateLimitExceededError) as refused:
        limiter.reserve(principal(), 15_000)
    assert refused.value.limit == "tokens"
    assert refused.value.status.tokens.remaining <= 15_000 * 51 // 60  # type: ignore[attr-defined]


def test_a_refund_returns_only_the_unelapsed_part(
    limiter: DynamoDBRateLimiter, clock: Clock
) -> None:
    # Given A reserved the whole minute (15k) at t=0 and B stacked 3k on top at t=50
    start = clock.now
    a = limiter.reserve(principal(), 15_000)
    clock.now = start + 50
    limiter.reserve(principal(), 3_000)
    # When A turns out to use nothing, at t=50
    limiter.settle(a, 0, served=True)
    # Then only A's last 10 s (2,500 tokens) come back: 12,000 are free, never 15,000.
    with pytest.raises(RateLimitExceededError) as refused:
        limiter.reserve(principal(), 15_000)
    assert refused.value.status.tokens.remaining == 12_000  # type: ignore[attr-defined]
    limiter.reserve(principal(), 12_000)


# -- issue 12: monthly spend in the same conditional update --------------------------------------


def test_spend_is_reserved_at_worst_case_and_settled_to_the_real_cost(
    limiter: DynamoDBRateLimiter, dynamodb: Any
) -> None:
    worst = Decimal("0.3")  # 1,000 tokens at $0.0003/1K
    reservation = limiter.reserve(principal(spend_limit="1"), 1_000, spend_usd=worst)
    assert Decimal(limiter_item(dynamodb)["spend_usd"]["N"]) == worst
    assert limiter_item(dynamodb)["spend_month"]["S"] == "2026-11"
    limiter.settle(reservation, 30, served=True, charge=charge("chat-1", 12, 18))
    assert Decimal(limiter_item(dynamodb)["spend_usd"]["N"]) == Decimal("0.000009")
    assert ledger_rows(dynamodb, "acct_a") == [
        {
            "sk": "2026-11-30#spark-1#key_a#0.0003",
            "model": "spark-1",
            "key_id": "key_a",
            "requests": 1,
            "prompt_tokens": 12,
            "completion_tokens": 18,
            "cost_usd": Decimal("0.000009"),
            "price": "0.0003",
        }
    ]


def test_a_replayed_settle_counts_once(limiter: DynamoDBRateLimiter, dynamodb: Any) -> None:
    reservation = limiter.reserve(principal(spend_limit="1"), 1_000, spend_usd=Decimal("0.3"))
    tat_before = Decimal(limiter_item(dynamodb)["tok_tat"]["N"])
    for _ in range(3):  # a retried or duplicated settle of the same completion
        limiter.settle(reservation, 30, served=True, charge=charge("chat-same", 12, 18))
    (row,) = ledger_rows(dynamodb, "acct_a")
    assert (row["requests"], row["prompt_tokens"], row["cost_usd"]) == (1, 12, Decimal("0.000009"))
    # The limiter's refund happened once too (970 tokens = 3,880 ms at 15,000/min).
    tat_after = Decimal(limiter_item(dynamodb)["tok_tat"]["N"])
    assert tat_before - tat_after == Decimal("3880")
    assert Decimal(limiter_item(dynamodb)["spend_usd"]["N"]) == Decimal("0.000009")


def test_over_the_limit_is_insufficient_quota_and_changes_nothing(
    limiter: DynamoDBRateLimiter, dynamodb: Any
) -> None:
    p = principal(limits=Limits(1000, 10**9), spend_limit="1")
    for _ in range(3):
        limiter.reserve(p, 1_000, spend_usd=Decimal("0.3"))
    before = limiter_item(dynamodb)
    with pytest.raises(SpendLimitExceededError) as refused:
        limiter.reserve(p, 1_000, spend_usd=Decimal("0.3"))
    assert "$1" in refused.value.message and "$0.9" in refused.value.message
    assert refused.value.month_to_date_usd == Decimal("0.9")
    assert limiter_item(dynamodb) == before
    # What still fits runs: exactly $0.1 more.
    limiter.reserve(p, 1_000, spend_usd=Decimal("0.1"))
    with pytest.raises(SpendLimitExceededError):
        limiter.reserve(p, 1, spend_usd=Decimal("0.0000003"))


def test_a_request_alone_above_the_limit_is_refused_without_a_write(
    limiter: DynamoDBRateLimiter, dynamodb: Any
) -> None:
    with pytest.raises(SpendLimitExceededError):
        limiter.reserve(principal(spend_limit="0.1"), 1_000, spend_usd=Decimal("0.3"))
    assert "Item" not in dynamodb.get_item(
        TableName=TABLES["RateLimitsTable"], Key={"account_id": {"S": "acct_a"}}
    )


def test_month_rollover_restarts_the_spend_and_the_counter_outlives_its_month(
    limiter: DynamoDBRateLimiter, dynamodb: Any, clock: Clock
) -> None:
    p = principal(limits=Limits(1000, 10**9), spend_limit="1")
    clock.now = NOV_END  # 2026-11-30 23:59
    limiter.reserve(p, 1_000, spend_usd=Decimal("0.6"))
    # The counter is kept (TTL) until after the month it counts has ended.
    assert int(limiter_item(dynamodb)["expires_at"]["N"]) > NOV_END + 60
    with pytest.raises(SpendLimitExceededError):
        limiter.reserve(p, 1_000, spend_usd=Decimal("0.6"))
    clock.now = NOV_END + 120  # 2026-12-01 00:01: a new month
    reservation = limiter.reserve(p, 1_000, spend_usd=Decimal("0.6"))
    assert reservation.spend_month == "2026-12" and reservation.day == "2026-12-01"
    item = limiter_item(dynamodb)
    assert (item["spend_month"]["S"], Decimal(item["spend_usd"]["N"])) == (
        "2026-12",
        Decimal("0.6"),
    )


def test_a_settle_after_the_month_changed_leaves_the_new_months_counter_alone(
    limiter: DynamoDBRateLimiter, dynamodb: Any, clock: Clock
) -> None:
    p = principal(limits=Limits(1000, 10**9), spend_limit="1")
    clock.now = NOV_END
    old = limiter.reserve(p, 1_000, spend_usd=Decimal("0.5"))
    clock.now = NOV_END + 120
    limiter.reserve(p, 1_000, spend_usd=Decimal("0.5"))  # December's counter: 0.5
    limiter.settle(old, 10, served=True, charge=charge("chat-nov", 5, 5))
    item = limiter_item(dynamodb)
    assert (item["spend_month"]["S"], Decimal(item["spend_usd"]["N"])) == (
        "2026-12",
        Decimal("0.5"),
    )
    # The answer is still in the ledger, on the day it was admitted (November): the settle's
    # second attempt (without the spend correction) is another transaction with its own request
    # token; reusing the first one is IdempotentParameterMismatch in DynamoDB and in the local
    # moto (issue 25 §5), which left the charge only logged.
    (row,) = ledger_rows(dynamodb, "acct_a")
    assert row["sk"].startswith("2026-11-30#") and row["requests"] == 1


def test_a_request_that_did_not_run_gives_back_its_spend(
    limiter: DynamoDBRateLimiter, dynamodb: Any
) -> None:
    reservation = limiter.reserve(principal(spend_limit="1"), 1_000, spend_usd=Decimal("0.3"))
    limiter.settle(reservation, 0, served=False)
    assert Decimal(limiter_item(dynamodb)["spend_usd"]["N"]) == 0
    assert ledger_rows(dynamodb, "acct_a") == []
