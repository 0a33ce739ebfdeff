"""The account's limits as the limiter enforces them, published on the account's limiter item.

Why: every key carries a copy of its account's limits (plan, per-minute budgets, spend limit), so
the limiter needs no read to know them. A change is copied into each key through the by_account
index, which is eventually consistent: a key created while it lags keeps the old copy, and so does
an API Gateway authorizer answer cached for minutes. So a change also publishes the limits on the
account's limiter item with a counter, the limits epoch, and each copy says at which epoch it was
made. The reservation's one conditional update requires `limits_epoch` to be the copy's (or absent:
never published); a copy the epoch has moved past is refused and replaced by the item's own limits,
which the failed condition returns (ReturnValuesOnConditionCheckFailure), so the next request of
every key obeys the change without another read. Items holding published limits do not expire (no
TTL): the authority cannot disappear and let an old copy count again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sparkai.dynamo import get_decimal, get_int, get_str
from sparkai.keys.records import Principal
from sparkai.plans import Limits

EPOCH = "limits_epoch"
PLAN, RPM, TPM, SPEND = "limits_plan", "limits_rpm", "limits_tpm", "limits_spend_usd"
TRIAL = "limits_trial_usd"  # a trial's one-off credit (absent: a paid account)


@dataclass(frozen=True)
class PublishedLimits:
    epoch: int
    plan: str
    limits: Limits
    spend_limit_usd: Decimal | None  # None: no monthly limit
    trial_credit_usd: Decimal | None = None  # None: not a trial


def published_of(item: Mapping[str, Mapping[str, Any]] | None) -> PublishedLimits | None:
    """The limits a limiter item carries, if any were ever published on it."""
    epoch, plan = get_int(item, EPOCH), get_str(item, PLAN)
    rpm, tpm = get_int(item, RPM), get_int(item, TPM)
    if not epoch or plan is None or not rpm or not tpm:
        return None
    return PublishedLimits(
        epoch, plan, Limits(rpm, tpm), get_decimal(item, SPEND), get_decimal(item, TRIAL)
    )


def with_current_limits(
    principal: Principal, published: PublishedLimits | None
) -> Principal | None:
    """`principal` with the account's published limits, or None when its copy is not behind."""
    if published is None or published.epoch <= principal.limits_epoch:
        return None
    return replace(
        principal,
        plan=published.plan,
        limits=published.limits,
        spend_limit_usd=published.spend_limit_usd,
        trial_credit_usd=published.trial_credit_usd,
        limits_epoch=published.epoch,
    )
