"""Authenticator: the one key check both paths use (API Gateway authorizer and Function URL)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sparkai.errors import InvalidApiKeyError, SparkAIError
from sparkai.keys.material import display_prefix, parse_bearer
from sparkai.keys.records import ACTIVE, Principal
from sparkai.keys.store import KeyStore
from sparkai.observability import logger

_MESSAGES = {
    "missing": "Missing API key. Send it as 'Authorization: Bearer sk-spark-...'.",
    "unknown": "Incorrect API key provided. You can find your API keys in your dashboard.",
    "revoked": "This API key has been revoked.",
    "expired": "This API key has expired.",
}


# How long a key this process checked may be remembered (and used without reading the key table).
# A remembered key is never trusted on its own: its reservation is conditional on the account's
# keys epoch it was remembered at (sparkai.keys.epochs), which every supported change to the
# account's keys moves. The bound is for what nothing announces: an edit made directly in the
# table reaches every process within this time. A key is never remembered past its own expiry.
RECENT_SECONDS = 300
_MAX_RECENT = 10_000


@dataclass(frozen=True)
class Remembered:
    """A key this process checked: who it is, and the account's keys epoch, read before that
    check (see Authenticator.confirm for why before)."""

    principal: Principal
    key_epoch: int


class Authenticator:
    def __init__(self, store: KeyStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._recent: dict[str, tuple[Remembered, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _memo_key(authorization: str) -> str:
        return hashlib.sha256(authorization.encode("utf-8", "surrogatepass")).hexdigest()

    def recent(self, authorization: str | None) -> Remembered | None:
        """The key behind this header as this process last confirmed it, if still remembered. No
        I/O. Only ever used under its keys epoch: the caller's reservation checks that."""
        if not authorization:
            return None
        with self._lock:
            entry = self._recent.get(self._memo_key(authorization))
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    def forget(self, authorization: str | None) -> None:
        if not authorization:
            return
        with self._lock:
            self._recent.pop(self._memo_key(authorization), None)

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal for a bearer header, read from the key table (consistently).

        Raises InvalidApiKeyError for any unusable key and AuthUnavailableError when the store
        cannot be read, so a failure to check never lets a request through.
        """
        try:
            return self._check(authorization)[0]
        except InvalidApiKeyError:
            self.forget(authorization)
            raise

    def confirm(self, authorization: str | None, principal: Principal, key_epoch: int) -> None:
        """Remember the key behind `authorization` at `key_epoch`: the epoch the caller's
        reservation returned, which it made *after* authenticate() read the key.

        The key is read once more here, after that epoch was read, and remembered only if it is
        still the same principal. Order is what makes this safe: a revocation (or plan change)
        writes the key record first and moves the epoch after. If the move came before the epoch
        was read, the record changed before this read, which then sees it; if after, the epoch
        remembered is the old one, and the next reservation under it is refused. Reading the
        epoch after the only check would remember a key revoked in between as valid. A failed
        read remembers nothing (the request itself was admitted by its own check)."""
        if not authorization:
            return
        try:
            again, expires_at = self._check(authorization)
        except SparkAIError:
            self.forget(authorization)
            return
        if again != principal:
            return
        until = self._clock() + RECENT_SECONDS
        if expires_at is not None:
            until = min(until, expires_at)
        with self._lock:
            if len(self._recent) >= _MAX_RECENT:
                self._recent.clear()
            self._recent[self._memo_key(authorization)] = (Remembered(principal, key_epoch), until)

    def _check(self, authorization: str | None) -> tuple[Principal, int | None]:
        """The principal, and when the key expires (None: never)."""
        secret = parse_bearer(authorization)
        if secret is None:
            logger.info("auth.denied", extra={"reason": "missing_or_malformed"})
            raise InvalidApiKeyError(_MESSAGES["missing" if not authorization else "unknown"])
        record = self._store.find_by_secret(secret)
        if record is None:
            logger.info(
                "auth.denied", extra={"reason": "unknown", "key_prefix": display_prefix(secret)}
            )
            raise InvalidApiKeyError(_MESSAGES["unknown"])
        state = record.state(self._clock())
        if state != ACTIVE:
            logger.info("auth.denied", extra={"reason": state, "key_id": record.key_id})
            raise InvalidApiKeyError(_MESSAGES.get(state, _MESSAGES["unknown"]))
        principal = Principal(
            account_id=record.account_id,
            key_id=record.key_id,
            plan=record.plan,
            limits=record.limits,
            key_hash=record.key_hash,
            usage_key=record.usage_key,
            spend_limit_usd=record.spend_limit_usd,
            trial_credit_usd=record.trial_credit_usd,
            key_prefix=record.prefix,
            limits_epoch=record.limits_epoch,
        )
        return principal, record.expires_at
