"""The plans (per-minute budgets per account) and the API Gateway edge throttle derived from them.

This module is the single source of truth; template.yaml repeats the edge numbers (a test checks
they agree) because CloudFormation cannot import Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Limits:
    requests_per_minute: int
    tokens_per_minute: int

    def __post_init__(self) -> None:
        if self.requests_per_minute < 1 or self.tokens_per_minute < 1:
            raise ValueError("limits must be positive")


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    limits: Limits | None  # None: set per account (Enterprise)


PLANS: dict[str, Plan] = {
    p.id: p
    for p in (
        Plan("starter", "Starter", Limits(30, 15_000)),
        Plan("pro", "Pro", Limits(90, 75_000)),
        Plan("enterprise", "Enterprise", None),
    )
}


def plan_name(plan_id: str) -> str:
    """What people read for a plan id ("Pro"); an unknown id is shown as it is."""
    plan = PLANS.get(plan_id)
    return plan.name if plan else plan_id


# The monthly spend limit a new account starts with (USD; `sparkai-admin account set-budget`
# changes it, `--monthly-usd none` removes it). Starter accounts are self-serve, so a runaway
# script stops at $100 instead of at the invoice; Pro and Enterprise start without one.
DEFAULT_MONTHLY_SPEND_LIMIT_USD: dict[str, Decimal] = {"starter": Decimal("100")}

# The edge only sheds clear abuse before it costs a Lambda invocation: API Gateway throttles per
# second and best effort, so it is set at twice the plan's average rate with a full minute's burst.
# The exact per-minute limits are enforced by sparkai.limits against DynamoDB.
EDGE_HEADROOM = 2
# Enterprise accounts share one edge plan whose throttle is a template parameter (default below).
ENTERPRISE_EDGE_REQUESTS_PER_MINUTE = 3000


@dataclass(frozen=True)
class EdgeThrottle:
    rate_limit: float  # requests per second (steady state)
    burst_limit: int


def edge_throttle(requests_per_minute: int) -> EdgeThrottle:
    rate = requests_per_minute * EDGE_HEADROOM / 60
    return EdgeThrottle(
        rate_limit=round(rate, 2),
        burst_limit=max(1, math.ceil(requests_per_minute * EDGE_HEADROOM)),
    )


def resolve_limits(plan_id: str, custom: Limits | None = None) -> Limits:
    """The limits an account on `plan_id` gets; Enterprise requires `custom`."""
    plan = PLANS.get(plan_id)
    if plan is None:
        raise ValueError(f"unknown plan {plan_id!r}; choose one of {', '.join(PLANS)}")
    if plan.limits is None:
        if custom is None:
            raise ValueError(
                "the enterprise plan needs explicit requests/min and tokens/min limits"
            )
        return custom
    if custom is not None and custom != plan.limits:
        raise ValueError(
            f"the {plan.name} plan has fixed limits; custom limits need the enterprise plan"
        )
    return plan.limits
