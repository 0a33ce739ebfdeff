"""What each answer used: recorded once per request, partial streams included."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sparkai.keys.records import Principal
from sparkai.observability import logger
from sparkai.usage.pricing import cost_usd, price_per_1k_usd, usd


@dataclass(frozen=True)
class UsageRecord:
    account_id: str
    key_id: str
    model: str
    completion_id: str
    prompt_tokens: int
    completion_tokens: int
    streamed: bool
    complete: bool  # False when the client left (or the model failed) mid-stream

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost_usd(self) -> Decimal:
        return cost_usd(price_per_1k_usd(self.model), self.total_tokens)


class UsageRecorder(Protocol):
    def record(self, principal: Principal, usage: UsageRecord) -> None: ...


class KeyActivity(Protocol):
    """Where a key's last use is written (the KeyStore)."""

    def touch(self, key_hash: str, now: int) -> None: ...


class LogUsageRecorder:
    """One structured `usage` log line per request (the metering pipeline's input) and, at most
    every `touch_interval` seconds per key and process, the key's last-used time."""

    def __init__(
        self,
        key_store: KeyActivity | None = None,
        clock: Callable[[], float] = time.time,
        touch_interval: float = 300,
    ) -> None:
        self._store = key_store
        self._clock = clock
        self._interval = touch_interval
        self._touched: dict[str, float] = {}

    def record(self, principal: Principal, usage: UsageRecord) -> None:
        logger.info(
            "usage",
            extra={
                "account_id": usage.account_id,
                "key_id": usage.key_id,
                "model": usage.model,
                "completion_id": usage.completion_id,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
                "cost_usd": usd(usage.cost_usd),
                "price_per_1k_usd": usd(price_per_1k_usd(usage.model)),
                "streamed": usage.streamed,
                "complete": usage.complete,
            },
        )
        self._touch(principal)

    def _touch(self, principal: Principal) -> None:
        if self._store is None or not principal.key_hash:
            return
        now = self._clock()
        if now - self._touched.get(principal.key_id, 0) < self._interval:
            return
        self._touched[principal.key_id] = now
        try:
            self._store.touch(principal.key_hash, int(now))
        except Exception:
            logger.warning("keys.touch_failed", extra={"key_id": principal.key_id}, exc_info=True)
