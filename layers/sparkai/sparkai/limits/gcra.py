"""The limiter's arithmetic: GCRA budgets, the spend month, and the refusals a client reads.

Each budget (requests, tokens) is a generic cell rate algorithm: the item stores its "theoretical
arrival time" (tat, epoch ms). A request costing `c` units of a budget with limit `L` per minute
advances tat by c * 60000 / L ms and is allowed while the new tat stays within one minute of now.
That is a token bucket that refills continuously (no burst at minute boundaries) and empties
completely after a minute of silence; requests and tokens each have their own tat, so their
windows and resets are independent. Pure functions: no DynamoDB here.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sparkai.dynamo import get_decimal, get_int, get_str
from sparkai.errors import (
    RateLimitExceededError,
    SpendLimitExceededError,
    TrialCreditExhaustedError,
)
from sparkai.keys.records import Principal
from sparkai.limits.port import BudgetStatus, RateLimitStatus
from sparkai.limits.published import PublishedLimits, published_of
from sparkai.plans import Limits, plan_name
from sparkai.usage.pricing import usd

WINDOW_MS = Decimal(60_000)
# A budget item outlives its window by this much before DynamoDB's TTL may remove it.
TTL_MARGIN_S = 120
# The limiter item's attribute holding what a trial account has used or reserved of its credit.
TRIAL_SPENT = "trial_spent_usd"
QUANTUM = Decimal("0.000001")  # tat precision: a nanosecond, exact in DynamoDB's 38 digits


@dataclass(frozen=True)
class State:
    """What the item held (or is guessed to hold): two arrival times and the month's spend."""

    req_tat: Decimal | None = None
    tok_tat: Decimal | None = None
    spend_month: str | None = None
    spend_usd: Decimal = Decimal(0)
    keys_epoch: int = 0  # moved by every change to the account's keys (sparkai.keys.epochs)
    published: PublishedLimits | None = None  # the account's limits (sparkai.limits.published)
    trial_spent_usd: Decimal = Decimal(0)  # used or reserved of a trial's credit, never reset


def state_of(item: Mapping[str, Mapping[str, Any]] | None) -> State:
    return State(
        get_decimal(item, "req_tat"),
        get_decimal(item, "tok_tat"),
        get_str(item, "spend_month"),
        get_decimal(item, "spend_usd") or Decimal(0),
        get_int(item, "keys_epoch") or 0,
        published_of(item),
        get_decimal(item, TRIAL_SPENT) or Decimal(0),
    )


def month_of(now_ms: Decimal) -> tuple[str, str, int]:
    """(YYYY-MM, YYYY-MM-DD, epoch seconds the month ends) for `now_ms`, in UTC."""
    moment = datetime.fromtimestamp(float(now_ms) / 1000, UTC)
    year, month = moment.year, moment.month
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return f"{year:04d}-{month:02d}", moment.strftime("%Y-%m-%d"), calendar.timegm(end.timetuple())


def increment(units: int, limit: int) -> Decimal:
    # Rounded down: N requests of a budget N fit exactly in a minute, N + 1 never do.
    return (WINDOW_MS * units / limit).quantize(QUANTUM, rounding=ROUND_FLOOR)


def budget(tat: Decimal | None, now: Decimal, limit: int) -> BudgetStatus:
    level = max(tat or now, now)
    remaining = math.floor((now + WINDOW_MS - level) * limit / WINDOW_MS)
    return BudgetStatus(
        limit=limit,
        remaining=max(0, min(limit, remaining)),
        reset_seconds=float((level - now) / 1000),
    )


def status(state: State, now: Decimal, limits: Limits) -> RateLimitStatus:
    """Both budgets as the rate-limit headers report them."""
    return RateLimitStatus(
        requests=budget(state.req_tat, now, limits.requests_per_minute),
        tokens=budget(state.tok_tat, now, limits.tokens_per_minute),
    )


def wait_seconds(tat: Decimal | None, now: Decimal, inc: Decimal) -> int:
    overshoot = max(tat or now, now) + inc - (now + WINDOW_MS)
    return 0 if overshoot <= 0 else min(60, max(1, math.ceil(overshoot / 1000)))


def unelapsed(refund: Decimal, reserved_until: Decimal | None, now: Decimal) -> Decimal:
    """At most what of a reservation ending at `reserved_until` is still ahead of `now`."""
    if reserved_until is None:  # a reservation from before this field existed: as before
        return refund
    return max(Decimal(0), min(refund, reserved_until - now))


def refuse_if_over_budget(
    principal: Principal, spend_usd: Decimal, state: State, spend_month: str
) -> None:
    limit = principal.spend_limit_usd
    if limit is None:
        return
    spent = state.spend_usd if state.spend_month == spend_month else Decimal(0)
    if spent + spend_usd <= limit:
        return
    raise SpendLimitExceededError(
        f"You exceeded your monthly spend limit of ${usd(limit)}: ${usd(spent)} is used or "
        f"reserved in {spend_month}, and this request could cost up to ${usd(spend_usd)} "
        "(prompt plus max_tokens). Lower max_tokens, or ask for a higher limit.",
        limit_usd=limit,
        month_to_date_usd=spent,
    )


# What a trial account's 429 tells its owner to do (the operator's side: docs/operations.md).
TRIAL_NEXT_STEP = (
    "To keep using the API, contact us to upgrade to a paid plan or to raise your credit; "
    "your keys keep working as soon as the account changes."
)


def refuse_if_over_trial(principal: Principal, spend_usd: Decimal, state: State) -> None:
    """Refuse a request a trial account's one-off credit cannot pay for at its worst case."""
    credit = principal.trial_credit_usd
    if credit is None or state.trial_spent_usd + spend_usd <= credit:
        return
    used = state.trial_spent_usd
    if used >= credit:
        detail = f"Your free trial credit of ${usd(credit)} is used up."
    else:
        detail = (
            f"Your free trial credit of ${usd(credit)} has ${usd(credit - used)} left, and this "
            f"request could cost up to ${usd(spend_usd)} (prompt plus max_tokens); a smaller "
            "max_tokens may fit."
        )
    raise TrialCreditExhaustedError(
        f"{detail} {TRIAL_NEXT_STEP}", credit_usd=credit, used_usd=min(used, credit)
    )


def refuse_if_over(
    principal: Principal,
    tokens: int,
    current: State,
    now: Decimal,
    req_inc: Decimal,
    tok_inc: Decimal,
) -> None:
    limits = principal.limits
    req_wait = wait_seconds(current.req_tat, now, req_inc)
    tok_wait = wait_seconds(current.tok_tat, now, tok_inc)
    if not req_wait and not tok_wait:
        return
    plan = plan_name(principal.plan)
    retry_after = max(req_wait, tok_wait)
    if req_wait >= tok_wait:
        limit = "requests"
        message = (
            f"Rate limit reached for requests on the {plan} plan: "
            f"{limits.requests_per_minute:,} requests per minute. Retry after {retry_after} s."
        )
    else:
        limit = "tokens"
        message = (
            f"Rate limit reached for tokens on the {plan} plan: {limits.tokens_per_minute:,} "
            f"tokens per minute, and this request needs {tokens:,} (prompt plus max_tokens). "
            f"Retry after {retry_after} s, or lower max_tokens."
        )
    raise RateLimitExceededError(
        message, limit=limit, retry_after=retry_after, status=status(current, now, limits)
    )
