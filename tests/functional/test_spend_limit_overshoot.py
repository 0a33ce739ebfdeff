"""A known gap in "total spend never exceeds the limit" (issue 12), kept visible as a strict xfail.

The reservation holds the *estimated* worst case (prompt estimate + max_tokens); the settle then
charges what the model reported. When the model counts more prompt tokens than the estimate (the
default "estimate" tokenizer differs from the served model's), the settle adds the difference
after admission, and the month's spend ends above the limit. Seen as a user on the local stack:
limit $0.00004, month to date $0.0000408. When this is fixed (e.g. a safety margin on the
estimate, or the reservation sized with the model's own tokenizer), this test passes and strict
xfail turns it red: remove the marker then."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest

from sparkai.keys.records import Principal
from sparkai.limits.limiter import DynamoDBRateLimiter
from sparkai.plans import Limits
from sparkai.usage.ledger import Charge
from tests.conftest import REGION, TABLES

T0 = 1_795_680_000.0  # 2026-11-26 08:00 UTC
PRICE = Decimal("0.0003")  # spark-1


@pytest.mark.xfail(
    strict=True, reason="the settle can push the month's spend past the limit (see module doc)"
)
def test_a_model_counting_more_prompt_tokens_than_estimated_stays_within_the_limit(
    moto: None,
) -> None:
    dynamodb: Any = boto3.client("dynamodb", region_name=REGION)
    limiter = DynamoDBRateLimiter(
        TABLES["RateLimitsTable"],
        lambda: dynamodb,
        clock=lambda: T0,
        usage_table=TABLES["UsageTable"],
    )
    limit = PRICE * 40 / 1000
    principal = Principal("acct_o", "key_o", "pro", Limits(90, 75_000), spend_limit_usd=limit)
    # Admitted: the estimate (11 prompt + 20 max_tokens = 31 tokens) fits under 40 tokens' worth
    reservation = limiter.reserve(principal, 31, spend_usd=PRICE * 31 / 1000)
    # The model reports 24 prompt tokens and 20 completion tokens: 44 tokens' worth
    limiter.settle(
        reservation,
        44,
        served=True,
        charge=Charge("chat-overshoot", "acct_o", "key_o", "spark-1", "2026-11-26", 24, 20, PRICE),
    )
    item = dynamodb.get_item(
        TableName=TABLES["RateLimitsTable"], Key={"account_id": {"S": "acct_o"}}
    )["Item"]
    assert Decimal(item["spend_usd"]["N"]) <= limit
