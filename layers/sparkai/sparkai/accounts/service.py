"""AccountAdmin: create accounts, issue, list, revoke and rotate keys, change plans (the CLI and the
dashboard both run it)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sparkai.accounts.edge import Edge, NoEdge
from sparkai.accounts.records import Account
from sparkai.accounts.store import AccountStore
from sparkai.errors import ActiveKeyLimitError
from sparkai.keys.epochs import KeyEpochs
from sparkai.keys.material import display_prefix, generate_key, hash_key, is_well_formed
from sparkai.keys.records import ACTIVE, REVOKED, ApiKeyRecord
from sparkai.keys.store import KeyStore
from sparkai.limits.trial import TrialCounter
from sparkai.plans import DEFAULT_MONTHLY_SPEND_LIMIT_USD, Limits, resolve_limits
from sparkai.usage.reporter import UsageReporter, month_range

DEFAULT_ROTATION_GRACE_SECONDS = 24 * 3600

_log = logging.getLogger(__name__)


class AdminError(RuntimeError):
    """An admin operation cannot be done as asked (unknown account or key, bad plan...)."""


@dataclass(frozen=True)
class CreatedKey:
    # Shown once; only its digest is stored. Kept out of repr, so logging or printing the object
    # (or a traceback's locals) never writes the key.
    secret: str = field(repr=False)
    record: ApiKeyRecord


class AccountAdmin:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        keys: KeyStore,
        epochs: KeyEpochs,
        edge: Edge | None = None,
        clock: Callable[[], float] = time.time,
        usage: UsageReporter | None = None,
        trials: TrialCounter | None = None,
    ) -> None:
        self._accounts = accounts
        self._keys = keys
        # Moved after every change to an account's keys, once the key records are written: a
        # process that remembers a key at the old epoch checks it again (sparkai.keys.epochs).
        self._epochs = epochs
        self._edge = edge or NoEdge()
        self._clock = clock
        self._usage = usage
        self._trials = trials  # what trials have spent (the limiter's counter), for display

    def _now(self) -> int:
        return int(self._clock())

    # -- accounts -----------------------------------------------------------------------------------

    def create_account(
        self,
        plan: str,
        *,
        name: str = "",
        limits: Limits | None = None,
        trial_credit_usd: Decimal | None = None,
    ) -> Account:
        """A new account; with `trial_credit_usd`, a trial that may spend that much in all (on
        top of the plan's monthly limit, which applies once the trial ends)."""
        try:
            resolved = resolve_limits(plan, limits)
        except ValueError as exc:
            raise AdminError(str(exc)) from exc
        _check_amount("a trial credit", trial_credit_usd)
        account = Account(
            "acct_" + uuid.uuid4().hex[:16],
            name,
            plan,
            resolved,
            self._now(),
            spend_limit_usd=DEFAULT_MONTHLY_SPEND_LIMIT_USD.get(plan),
            trial_credit_usd=trial_credit_usd,
        )
        self._accounts.create(account)
        return account

    def get_account(self, account_id: str) -> Account:
        account = self._accounts.get(account_id)
        if account is None:
            raise AdminError(f"no account {account_id!r}")
        return account

    def change_plan(self, account_id: str, plan: str, *, limits: Limits | None = None) -> Account:
        """Move the account (and every key's cached copy of its limits) to another plan."""
        account = self.get_account(account_id)
        try:
            resolved = resolve_limits(plan, limits)
        except ValueError as exc:
            raise AdminError(str(exc)) from exc
        if account.usage_key_id:
            self._edge.move_key(account.usage_key_id, account.plan, plan)
        return self._change_limits(replace(account, plan=plan, limits=resolved))

    def _change_limits(self, account: Account) -> Account:
        """Give the account new limits (plan, per-minute budgets, spend limit), binding on every
        key's next request: first published where the limiter enforces them, whatever the keys'
        copies say (sparkai.limits.published); then copied into the account and into each key the
        by_account index lists, so the copies are current again (a key the index misses is
        corrected by the limiter). Then the keys epoch, for keys a process remembers."""
        epoch = self._epochs.publish_limits(
            account.account_id,
            account.plan,
            account.limits,
            account.spend_limit_usd,
            account.trial_credit_usd,
        )
        copy: dict[str, str | int | Decimal | None] = {
            "plan": account.plan,
            "rpm": account.limits.requests_per_minute,
            "tpm": account.limits.tokens_per_minute,
            "spend_limit_usd": account.spend_limit_usd,
            "trial_credit_usd": account.trial_credit_usd,
            "limits_epoch": epoch,
        }
        self._accounts.update(account.account_id, **copy)
        for record in self._keys.list_for_account(account.account_id):
            self._keys.update(record.key_hash, **copy)
        self._epochs.bump(account.account_id)
        return replace(account, limits_epoch=epoch)

    def set_budget(self, account_id: str, monthly_usd: Decimal | None) -> Account:
        """Set (or, with None, remove) the account's monthly spend limit, on the account and on
        every key's copy of it (as plan changes do), so the next reservation uses it."""
        if monthly_usd is not None and (not monthly_usd.is_finite() or monthly_usd < 0):
            raise AdminError(f"a monthly budget must be a non-negative amount, not {monthly_usd}")
        return self._change_limits(
            replace(self.get_account(account_id), spend_limit_usd=monthly_usd)
        )

    def set_trial_credit(self, account_id: str, credit_usd: Decimal | None) -> Account:
        """Set a trial account's one-off credit (raise it, or grant one), or with None end the
        trial: the account is then paid, within its monthly spend limit. Published with the
        account's other limits, so every key's next request obeys it, as set_budget does. What the
        trial has spent stays counted (it is lifetime)."""
        _check_amount("a trial credit", credit_usd)
        return self._change_limits(
            replace(self.get_account(account_id), trial_credit_usd=credit_usd)
        )

    def trial_used(self, account_id: str) -> Decimal:
        """How much of the account's trial credit is gone: settled answers, and requests still
        running at their worst case (exactly what the next request is checked against)."""
        if self._trials is None:
            raise AdminError("no rate-limits table configured: pass --stack NAME or --local")
        return self._trials.spent(account_id)

    def usage_report(self, account_id: str, month: str) -> dict[str, Any]:
        """The account's usage for one UTC month (YYYY-MM), in the GET /v1/usage shape."""
        if self._usage is None:
            raise AdminError(
                "no usage table configured: pass --stack NAME or --local, or set SPARKAI_USAGE_TABLE"
            )
        self.get_account(account_id)  # an unknown account is an error, not an empty report
        first, last = month_range(month)
        return self._usage.report(account_id, first, last)

    # -- keys ---------------------------------------------------------------------------------------

    def create_key(
        self,
        account_id: str,
        *,
        name: str = "",
        expires_in: int | None = None,
        secret: str | None = None,
        max_active: int | None = None,
    ) -> CreatedKey:
        """Issue a key. `secret` lets a demo or test choose it; it must look like a real key.
        `max_active` (the dashboard's cap): only while the account has fewer active keys, else
        ActiveKeyLimitError and no key."""
        account = self.get_account(account_id)
        if secret is not None and not is_well_formed(secret):
            raise AdminError(
                "a chosen key must look like sk-spark- followed by 20-128 of [A-Za-z0-9_-]"
            )
        account = self._ensure_edge_key(account)
        secret = secret or generate_key()
        now = self._now()
        record = ApiKeyRecord(
            key_id="key_" + uuid.uuid4().hex[:16],
            key_hash=hash_key(secret),
            account_id=account.account_id,
            prefix=display_prefix(secret),
            status=ACTIVE,
            created_at=now,
            plan=account.plan,
            limits=account.limits,
            name=name,
            expires_at=now + expires_in if expires_in else None,
            usage_key=account.usage_key or None,
            spend_limit_usd=account.spend_limit_usd,
            limits_epoch=account.limits_epoch,
            trial_credit_usd=account.trial_credit_usd,
        )
        self._keys.put(record)
        self._count_key(record, max_active)
        return CreatedKey(secret, record)

    def _count_key(self, record: ApiKeyRecord, max_active: int | None) -> None:
        """Count the new key among the account's active keys (a set of digests on the account
        item, read consistently); with `max_active`, only while fewer are active, or the key is
        deleted again (it was never shown) and ActiveKeyLimitError raised. The size condition
        makes racing creations exact. The key is written before it is counted, so a counted
        digest whose record is gone, revoked or expired is simply no longer active: such digests
        are dropped here first (expiry announces nothing, so this is where it is noticed)."""
        account_id, mine = record.account_id, {record.key_hash}
        if max_active is None:
            self._accounts.count_keys(account_id, mine)
            return
        now = self._clock()
        counted = self._accounts.counted_keys(account_id)
        if counted is None:  # an account from before the count: start it from its keys, once
            counted = {
                r.key_hash
                for r in self._keys.list_for_account(account_id)
                if r.state(now) == ACTIVE
            } - mine
            if counted:
                self._accounts.count_keys(account_id, counted)
        stale = set()
        for key_hash in counted - mine:
            found = self._keys.get(key_hash)
            if found is None or found.state(now) != ACTIVE:
                stale.add(key_hash)
        self._accounts.uncount_keys(account_id, stale)
        if not self._accounts.count_keys(account_id, mine, limit=max_active):
            self._keys.delete(record.key_hash)
            raise ActiveKeyLimitError(
                f"This account already has {max_active} active API keys, the most it may have. "
                "Revoke a key you no longer use, then create one."
            )

    def _ensure_edge_key(self, account: Account) -> Account:
        """The account with its API Gateway key, created on its first key.

        Two first requests at once (two dashboard tabs) each create a key, but only one id can
        be recorded (a conditional write): the other deletes its own and uses the recorded one.
        Keys are created disabled and enabled only once recorded, so whatever fails in between
        (the store, this process), no enabled key is left that no account points to."""
        if account.usage_key_id:
            if not any(
                r.state(self._clock()) == ACTIVE
                for r in self._keys.list_for_account(account.account_id)
            ):
                self._edge.set_enabled(account.usage_key_id, True)  # was disabled with the last key
            return account
        key_id, value = self._edge.create_key(account.account_id, account.plan)
        if not key_id:
            return account
        try:
            recorded = self._accounts.claim_usage_key(account.account_id, key_id, value)
        except BaseException:
            self._discard_edge_key(key_id)
            raise
        if recorded:
            account = replace(account, usage_key_id=key_id, usage_key=value)
        else:  # another request recorded its key first: use that one
            self._discard_edge_key(key_id)
            account = self.get_account(account.account_id)
            if not account.usage_key_id:
                raise AdminError(f"account {account.account_id} has no usage-plan key recorded")
        # The winner's key too, when this request lost: it may not be enabled yet, and the key
        # this request returns must work at API Gateway at once.
        self._edge.set_enabled(account.usage_key_id, True)
        return account

    def _discard_edge_key(self, key_id: str) -> None:
        """Delete a key no account records. If that fails too, it stays disabled (created so):
        it opens nothing, and an operator can find it by its sparkai:account tag."""
        try:
            self._edge.delete_key(key_id)
        except Exception:  # the error that brought us here (if any) is the one to raise
            _log.warning("could not delete unrecorded usage-plan key %s (left disabled)", key_id)

    def list_keys(self, account_id: str) -> list[ApiKeyRecord]:
        return sorted(
            self._keys.list_for_account(account_id), key=lambda r: (r.created_at, r.key_id)
        )

    def _key(self, key_id: str, known: ApiKeyRecord | None = None) -> ApiKeyRecord:
        """The key's record: `known` if the caller just read this very key, else looked up."""
        if known is not None and known.key_id == key_id:
            return known
        record = self._keys.find_by_key_id(key_id)
        if record is None:
            raise AdminError(f"no key {key_id!r}")
        return record

    def revoke_key(self, key_id: str, *, record: ApiKeyRecord | None = None) -> ApiKeyRecord:
        """Revoke a key (a no-op for a revoked one); the record as stored after. `record`: the
        key as the caller just read it (the dashboard, after its ownership check), so it is not
        looked up again."""
        record = self._key(key_id, record)
        if record.status != REVOKED:
            record = self._keys.update(record.key_hash, status=REVOKED, revoked_at=self._now())
        self._accounts.uncount_keys(record.account_id, {record.key_hash})
        self._epochs.bump(record.account_id)  # also when it was revoked already: cheap, certain
        # The account's keys come from the by_account index, which is eventually consistent: a
        # key created a moment ago may be missing, so rotate_key does not come through here.
        remaining = [
            r
            for r in self._keys.list_for_account(record.account_id)
            if r.key_id != key_id and r.state(self._clock()) == ACTIVE
        ]
        if not remaining:
            account = self.get_account(record.account_id)
            if account.usage_key_id:
                self._edge.set_enabled(account.usage_key_id, False)
        return record

    def rotate_key(
        self,
        key_id: str,
        *,
        grace_seconds: int = DEFAULT_ROTATION_GRACE_SECONDS,
        record: ApiKeyRecord | None = None,
    ) -> CreatedKey:
        """A new key for the same account; the old one keeps working for `grace_seconds`.
        `record`: the old key as the caller just read it (see revoke_key)."""
        old = self._key(key_id, record)
        if old.state(self._clock()) != ACTIVE:
            raise AdminError(f"key {key_id} is {old.state(self._clock())}; only active keys rotate")
        # Order matters: the new key, and the account's usage-plan key, must work before the old
        # key stops. The new record is confirmed by a consistent read of the table itself (what
        # every key check reads); the by_account index may not show it yet, so the old key is
        # revoked without the "was it the last active key?" check that would read that index and
        # could disable the usage-plan key (403 account_not_provisioned on API Gateway).
        created = self.create_key(old.account_id, name=old.name)
        if self._keys.find_by_secret(created.secret) is None:
            raise AdminError(f"the new key {created.record.key_id} is not readable; {key_id} kept")
        account = self.get_account(old.account_id)
        if account.usage_key_id:
            self._edge.set_enabled(account.usage_key_id, True)
        if grace_seconds <= 0:
            self._keys.update(old.key_hash, status=REVOKED, revoked_at=self._now())
            self._accounts.uncount_keys(old.account_id, {old.key_hash})
        else:
            deadline = self._now() + grace_seconds
            if old.expires_at is None or old.expires_at > deadline:
                self._keys.update(old.key_hash, expires_at=deadline)
        self._epochs.bump(old.account_id)
        return created


def _check_amount(what: str, amount: Decimal | None) -> None:
    if amount is not None and (not amount.is_finite() or amount < 0):
        raise AdminError(f"{what} must be a non-negative amount in USD, not {amount}")
