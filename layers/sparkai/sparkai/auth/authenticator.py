"""Authenticator: the one key check both paths use (API Gateway authorizer and Function URL)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from sparkai.errors import InvalidApiKeyError
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


# How long a key this process accepted may be used as a *guess* (never as a verdict): the
# Function URL path reserves rate-limit budget for the guessed principal while the key store
# confirms the key, so the two DynamoDB calls overlap instead of adding up.
RECENT_SECONDS = 300
_MAX_RECENT = 10_000


class Authenticator:
    def __init__(self, store: KeyStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._recent: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _memo_key(authorization: str) -> str:
        return hashlib.sha256(authorization.encode("utf-8", "surrogatepass")).hexdigest()

    def recent(self, authorization: str | None) -> Principal | None:
        """The principal this header authenticated as within RECENT_SECONDS, if any. No I/O.
        Only a guess: callers still authenticate() and trust nothing until it agrees."""
        if not authorization:
            return None
        with self._lock:
            entry = self._recent.get(self._memo_key(authorization))
        if entry is None or entry[1] < self._clock():
            return None
        return entry[0]

    def _remember(self, authorization: str, principal: Principal) -> None:
        with self._lock:
            if len(self._recent) >= _MAX_RECENT:
                self._recent.clear()
            self._recent[self._memo_key(authorization)] = (
                principal,
                self._clock() + RECENT_SECONDS,
            )

    def _forget(self, authorization: str) -> None:
        with self._lock:
            self._recent.pop(self._memo_key(authorization), None)

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal for a bearer header.

        Raises InvalidApiKeyError for any unusable key and AuthUnavailableError when the store
        cannot be read, so a failure to check never lets a request through.
        """
        try:
            principal = self._check(authorization)
        except InvalidApiKeyError:
            if authorization:
                self._forget(authorization)
            raise
        assert authorization is not None
        self._remember(authorization, principal)
        return principal

    def _check(self, authorization: str | None) -> Principal:
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
        return Principal(
            account_id=record.account_id,
            key_id=record.key_id,
            plan=record.plan,
            limits=record.limits,
            key_hash=record.key_hash,
            usage_key=record.usage_key,
            spend_limit_usd=record.spend_limit_usd,
            key_prefix=record.prefix,
        )
