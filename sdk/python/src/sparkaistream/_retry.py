"""Retry policy: which failures to retry and how long to wait (full-jitter backoff, retry-after)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Callable

import httpx

DEFAULT_MAX_RETRIES = 2
INITIAL_DELAY = 0.5  # seconds; the backoff cap doubles from here on each attempt
MAX_DELAY = 8.0  # cap of the computed (jittered) backoff
MAX_RETRY_AFTER = 60.0  # a server's retry-after is honoured up to this many seconds

# 409 only with code idempotency_key_in_use (the first attempt is still running), 429 never with
# code insufficient_quota (the month's spend limit: waiting does not help).
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
RETRYABLE_ONLY_WITH_CODE = {409: "idempotency_key_in_use"}
NEVER_RETRIED_CODES = {429: "insufficient_quota"}
IDEMPOTENCY_HEADER = "Idempotency-Key"

Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]


def default_sleep(seconds: float) -> None:
    time.sleep(seconds)


async def default_async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def is_retryable_status(status_code: int, code: str | None = None) -> bool:
    if status_code not in RETRYABLE_STATUSES:
        return False
    if status_code in RETRYABLE_ONLY_WITH_CODE:
        return code == RETRYABLE_ONLY_WITH_CODE[status_code]
    never = NEVER_RETRIED_CODES.get(status_code)
    return never is None or code != never


def new_idempotency_key() -> str:
    """One per logical call, reused by its retries: the server answers a retry of a request it
    already ran with the stored answer instead of running (and billing) it again."""
    return "sparkai-" + uuid.uuid4().hex


def is_retryable_exception(exc: Exception) -> bool:
    """Timeouts and broken/refused connections; not bad URLs or local protocol misuse."""
    return isinstance(exc, (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError))


def _now() -> float:
    return time.time()


def parse_retry_after(value: str | None, *, now: Callable[[], float] | None = None) -> float | None:
    """`retry-after` as seconds: delta-seconds ("2", "1.5") or an HTTP-date (time until it,
    never negative). None when absent or unparseable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is not a delay
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # Python < 3.10 returns None for some invalid dates
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (now or _now)())


def retry_delay(
    attempt: int,
    retry_after: float | None = None,
    *,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait before retry number `attempt + 1` (attempt counts from 0).

    The server's retry-after wins (capped at MAX_RETRY_AFTER); otherwise full jitter:
    uniform(0, min(MAX_DELAY, INITIAL_DELAY * 2**attempt))."""
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER)
    ceiling = min(MAX_DELAY, INITIAL_DELAY * (2 ** min(attempt, 30)))
    return uniform(0.0, ceiling)
