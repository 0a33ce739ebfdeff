"""The dashboard's account operations, for one signed-in user and only their own account.

Key lifecycle is AccountAdmin's (the same code the operators' CLI runs); this module adds the
user -> account link and the ownership check that keeps one session out of other accounts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sparkai.accounts.records import Account
from sparkai.accounts.service import (
    DEFAULT_ROTATION_GRACE_SECONDS,
    AccountAdmin,
    AdminError,
    CreatedKey,
)
from sparkai.accounts.store import AccountStore
from sparkai.dashboard.tokens import DashboardUser
from sparkai.errors import (
    DashboardKeyNotFoundError,
    EmailNotVerifiedError,
    InvalidRequestError,
)
from sparkai.keys.records import ApiKeyRecord
from sparkai.keys.store import KeyStore
from sparkai.observability import logger

# Where a dashboard user's first signed-in call puts the new account (with the operator's trial
# credit, SPARKAI_TRIAL_CREDIT_USD: a self-service sign-up is a trial until an operator says not).
NEW_ACCOUNT_PLAN = "starter"
DEFAULT_MAX_ACTIVE_KEYS = 20


@dataclass(frozen=True)
class Trial:
    """What a trial account was given and how much of it is gone (used, or reserved by requests
    still running at their worst case: what the next request is checked against)."""

    credit_usd: Decimal
    used_usd: Decimal

    @property
    def remaining_usd(self) -> Decimal:
        return max(Decimal(0), self.credit_usd - self.used_usd)


@dataclass(frozen=True)
class RotatedKey:
    created: CreatedKey
    previous: ApiKeyRecord


class DashboardService:
    def __init__(
        self,
        admin: AccountAdmin,
        keys: KeyStore,
        *,
        accounts: AccountStore,
        trial_credit_usd: Decimal | None = None,
        max_active_keys: int = DEFAULT_MAX_ACTIVE_KEYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._admin = admin
        self._keys = keys
        self._accounts = accounts
        self._trial_credit = trial_credit_usd
        self._max_active_keys = max_active_keys
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    # -- the account ----------------------------------------------------------------------------

    def account_for(self, user: DashboardUser) -> Account:
        """The user's account; created on the first signed-in call (Starter plan, the default
        spend limit AccountAdmin gives new Starter accounts, and the trial credit)."""
        account_id = self._accounts.linked_account_id(user.sub)
        if account_id is not None:
            return self._admin.get_account(account_id)
        account = self._admin.create_account(
            NEW_ACCOUNT_PLAN, name=user.email, trial_credit_usd=self._trial_credit
        )
        if not self._accounts.link(
            user.sub, account.account_id, email=user.email, now=int(self._clock())
        ):
            # Two first calls raced (two tabs): the other link won. Ours was never linked and
            # has no keys, so it goes.
            self._accounts.delete(account.account_id)
            winner = self._accounts.linked_account_id(user.sub)
            assert winner is not None
            return self._admin.get_account(winner)
        logger.info("dashboard.account_created", extra={"account_id": account.account_id})
        return account

    def trial(self, account: Account) -> Trial | None:
        """The account's trial credit and how much of it is gone; None for a paid account."""
        if account.trial_credit_usd is None:
            return None
        return Trial(account.trial_credit_usd, self._admin.trial_used(account.account_id))

    # -- keys -----------------------------------------------------------------------------------

    def list_keys(self, account_id: str) -> list[ApiKeyRecord]:
        return self._admin.list_keys(account_id)

    def _owned(self, account_id: str, key_id: str) -> ApiKeyRecord:
        """The key if this account owns it; anything else looks exactly like a missing key."""
        record = self._keys.find_by_key_id(key_id) if key_id.startswith("key_") else None
        if record is None or record.account_id != account_id:
            raise DashboardKeyNotFoundError(f"No key '{key_id[:40]}' in this account.")
        return record

    def create_key(
        self, user: DashboardUser, account_id: str, *, name: str, expires_in: int | None
    ) -> CreatedKey:
        """A new key, for a user who verified their e-mail, while the account has fewer active
        keys than the cap (exact however many tabs race: AccountAdmin counts them)."""
        _require_verified(user)
        return self._admin.create_key(
            account_id, name=name, expires_in=expires_in, max_active=self._max_active_keys
        )

    def revoke_key(self, account_id: str, key_id: str) -> ApiKeyRecord:
        return self._admin.revoke_key(key_id, record=self._owned(account_id, key_id))

    def rotate_key(
        self,
        user: DashboardUser,
        account_id: str,
        key_id: str,
        *,
        grace_seconds: int = DEFAULT_ROTATION_GRACE_SECONDS,
    ) -> RotatedKey:
        """A replacement key (not counted against the cap: the old one expires after the grace)."""
        _require_verified(user)
        owned = self._owned(account_id, key_id)
        try:
            created = self._admin.rotate_key(key_id, grace_seconds=grace_seconds, record=owned)
        except AdminError as exc:  # e.g. the key is revoked or expired already
            raise InvalidRequestError(str(exc), param="key_id") from exc
        return RotatedKey(created, self._owned(account_id, key_id))


def _require_verified(user: DashboardUser) -> None:
    if not user.email_verified:
        raise EmailNotVerifiedError(
            "Verify your e-mail address before creating API keys: enter the code we sent to "
            f"{user.email or 'your address'}, then sign in again."
        )
