"""What the accounts table knows about an account."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sparkai.plans import Limits


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    plan: str
    limits: Limits
    created_at: int
    usage_key_id: str = ""
    usage_key: str = ""
    spend_limit_usd: Decimal | None = None  # monthly, USD; None = no limit
    limits_epoch: int = 0  # the account's limits epoch these limits were published at
    # A trial account's one-off credit (USD): a cap on what it spends while a trial, which no
    # month refills (sparkai.limits.trial). None = a paid account.
    trial_credit_usd: Decimal | None = None
