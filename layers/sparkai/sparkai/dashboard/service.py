"""The dashboard's account operations, for one signed-in user and only their own account.

Key lifecycle is AccountAdmin's (the same code the operators' CLI runs); this module adds the
user -> account link and the ownership check that keeps one session out of other accounts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sparkai.accounts.records import Account
from sparkai.accounts.service import (
    DEFAULT_ROTATION_GRACE_SECONDS,
    AccountAdmin,
    AdminError,
    CreatedKey,
)
from sparkai.accounts.store import AccountStore
from sparkai.dashboard.tokens import DashboardUser
from sparkai.errors import DashboardKeyNotFoundError, InvalidRequestError
from sparkai.keys.records import ApiKeyRecord
from sparkai.keys.store import KeyStore
from sparkai.observability import logger

# Where a dashboard user's first signed-in call puts the new account.
NEW_ACCOUNT_PLAN = "starter"


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._admin = admin
        self._keys = keys
        self._accounts = accounts
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    # -- the account ----------------------------------------------------------------------------

    def account_for(self, user: DashboardUser) -> Account:
        """The user's account; created on the first signed-in call (Starter plan, the default
        spend limit AccountAdmin gives new Starter accounts)."""
        account_id = self._accounts.linked_account_id(user.sub)
        if account_id is not None:
            return self._admin.get_account(account_id)
        account = self._admin.create_account(NEW_ACCOUNT_PLAN, name=user.email)
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

    # -- keys -----------------------------------------------------------------------------------

    def list_keys(self, account_id: str) -> list[ApiKeyRecord]:
        return self._admin.list_keys(account_id)

    def _owned(self, account_id: str, key_id: str) -> ApiKeyRecord:
        """The key if this account owns it; anything else looks exactly like a missing key."""
        record = self._keys.find_by_key_id(key_id) if key_id.startswith("key_") else None
        if record is None or record.account_id != account_id:
            raise DashboardKeyNotFoundError(f"No key '{key_id[:40]}' in this account.")
        return record

    def create_key(self, account_id: str, *, name: str, expires_in: int | None) -> CreatedKey:
        return self._admin.create_key(account_id, name=name, expires_in=expires_in)

    def revoke_key(self, account_id: str, key_id: str) -> ApiKeyRecord:
        return self._admin.revoke_key(key_id, record=self._owned(account_id, key_id))

    def rotate_key(
        self, account_id: str, key_id: str, *, grace_seconds: int = DEFAULT_ROTATION_GRACE_SECONDS
    ) -> RotatedKey:
        owned = self._owned(account_id, key_id)
        try:
            created = self._admin.rotate_key(key_id, grace_seconds=grace_seconds, record=owned)
        except AdminError as exc:  # e.g. the key is revoked or expired already
            raise InvalidRequestError(str(exc), param="key_id") from exc
        return RotatedKey(created, self._owned(account_id, key_id))
