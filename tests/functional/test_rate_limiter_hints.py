"""After a settle the limiter moves its busy/idle guess by what the settle wrote, so the next
reservation is one UpdateItem, not a failed guess and a retry (moto's DynamoDB, fake clock)."""

from __future__ import annotations

import boto3

from sparkai.keys.records import Principal
from sparkai.limits.limiter import DynamoDBRateLimiter
from sparkai.plans import Limits
from tests.conftest import REGION, TABLES
from tests.support.clock import T0


def test_a_fully_refunded_request_leaves_a_guess_the_next_reserve_needs_no_retry_for(
    moto: None,
) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    calls: list[str] = []
    dynamodb.meta.events.register(
        "after-call.dynamodb.UpdateItem",
        lambda http_response, **_: calls.append(str(http_response.status_code)),
    )
    limiter = DynamoDBRateLimiter(TABLES["RateLimitsTable"], lambda: dynamodb, clock=lambda: T0)
    principal = Principal(account_id="acct_h", key_id="key_h", plan="pro", limits=Limits(60, 6000))

    # Given a reservation that is returned whole (nothing served): both budgets are idle again
    reservation = limiter.reserve(principal, 1_000)
    limiter.settle(reservation, 0, served=False)
    calls.clear()

    # When the next request reserves
    limiter.reserve(principal, 1_000)

    # Then one conditional update did it: the guess "idle" was right
    assert calls == ["200"]
