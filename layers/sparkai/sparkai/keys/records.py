"""What the key store knows about a key, and the principal an accepted key becomes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sparkai.plans import Limits

ACTIVE = "active"
REVOKED = "revoked"


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    key_hash: str
    account_id: str
    prefix: str
    status: str
    created_at: int
    plan: str
    limits: Limits
    name: str = ""
    expires_at: int | None = None
    revoked_at: int | None = None
    last_used_at: int | None = None
    usage_key: str | None = None  # the account's API Gateway key value (usage plans), if any
    # The account's monthly spend limit (USD), copied here like the plan limits so the limiter
    # gets it without another read; None = no limit. Written by `account set-budget`.
    spend_limit_usd: Decimal | None = None
    # The account's limits epoch this copy was made at (sparkai.limits.published): a copy the
    # account's limits have moved past is corrected by the limiter, whatever missed it.
    limits_epoch: int = 0
    # The account's trial credit (USD, lifetime), copied the same way; None = not a trial.
    trial_credit_usd: Decimal | None = None

    def state(self, now: float) -> str:
        """'active', 'revoked' or 'expired' at time `now`."""
        if self.status != ACTIVE:
            return self.status
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return ACTIVE


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: who it is and what it may spend."""

    account_id: str
    key_id: str
    plan: str
    limits: Limits
    key_hash: str = ""  # lets the chat function record last use without seeing the key
    usage_key: str | None = None  # API Gateway usage-plan key value, returned by the authorizer
    key_prefix: str = ""  # display prefix (sk-spark-Ab3x): what access logs may show, never the key
    spend_limit_usd: Decimal | None = None  # monthly, USD; None = no limit
    limits_epoch: int = 0  # the account's limits epoch the limits above were copied at
    trial_credit_usd: Decimal | None = None  # lifetime, USD; None = not a trial account
