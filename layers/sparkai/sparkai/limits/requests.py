"""A requests-per-minute budget per subject (a dashboard user), exact across every instance.

The same GCRA as the chat limiter (sparkai.limits.gcra) on one arrival time, in the same table
under a key no account id can take ("dashboard#<sub>"; account ids start with "acct_"): one
conditional UpdateItem per request, relative when the budget is busy, so concurrent requests of
one user are counted exactly. A wrong guess of busy/idle fails its condition and returns the
current item, from which the next try is exact; a refused request changes nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from sparkai.dynamo import conditional_check_failed, get_decimal, to_item
from sparkai.errors import DashboardRateLimitExceededError, LimiterUnavailableError
from sparkai.limits.gcra import QUANTUM, TTL_MARGIN_S, WINDOW_MS, increment, wait_seconds
from sparkai.observability import logger

if TYPE_CHECKING:
    from sparkai.aws import DynamoDBFactory

_MAX_HINTS = 10_000


class RequestRateLimiter:
    def __init__(
        self,
        table_name: str,
        client_factory: DynamoDBFactory,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 5,
    ) -> None:
        self._table = table_name
        self._client_factory = client_factory
        self._clock = clock
        self._max_attempts = max_attempts
        self._hints: dict[str, Decimal | None] = {}  # the last arrival time seen per subject

    def admit(self, subject: str, per_minute: int) -> None:
        """Count one request of `subject`, or refuse it (DashboardRateLimitExceededError, with
        the seconds until it would fit) when `per_minute` are already in the last minute."""
        now = Decimal(repr(self._clock() * 1000)).quantize(QUANTUM, rounding=ROUND_FLOOR)
        inc = increment(1, per_minute)
        tat = self._hints.get(subject)
        for _ in range(self._max_attempts):
            try:
                response = self._client_factory().update_item(
                    **_admit_request(self._table, subject, now, tat, inc),
                    ReturnValues="UPDATED_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if not conditional_check_failed(exc):
                    raise self._unavailable(exc) from exc
                item = cast("dict[str, Any] | None", exc.response.get("Item"))
                tat = get_decimal(item, "req_tat")
                wait = wait_seconds(tat, now, inc)
                if wait:
                    self._remember(subject, tat)
                    raise DashboardRateLimitExceededError(
                        f"Too many dashboard requests: at most {per_minute:,} a minute per user. "
                        f"Retry after {wait} s.",
                        retry_after=wait,
                    ) from None
                continue  # it fits; the guess of busy/idle was stale
            except BotoCoreError as exc:
                raise self._unavailable(exc) from exc
            self._remember(subject, get_decimal(response.get("Attributes"), "req_tat"))
            return
        raise LimiterUnavailableError("The rate limiter is under heavy contention; please retry.")

    def _remember(self, subject: str, tat: Decimal | None) -> None:
        if len(self._hints) >= _MAX_HINTS:
            self._hints.clear()
        self._hints[subject] = tat

    def _unavailable(self, exc: Exception) -> LimiterUnavailableError:
        logger.error("limiter.unavailable", extra={"error": type(exc).__name__})
        return LimiterUnavailableError(
            "Rate limits cannot be checked right now, so the request was not run; please retry."
        )


def _admit_request(
    table: str, subject: str, now: Decimal, tat: Decimal | None, inc: Decimal
) -> dict[str, Any]:
    values: dict[str, Any] = {":now": now, ":exp": math.ceil(now / 1000) + 60 + TTL_MARGIN_S}
    if tat is not None and tat > now:  # busy: advance relative to the stored value
        values |= {":inc": inc, ":max": now + WINDOW_MS - inc}
        condition, update = "#r > :now AND #r <= :max", "SET #r = #r + :inc, #e = :exp"
    else:  # idle: restart from now
        values[":new"] = now + inc
        condition, update = "attribute_not_exists(#r) OR #r <= :now", "SET #r = :new, #e = :exp"
    return {
        "TableName": table,
        "Key": to_item({"account_id": subject}),
        "UpdateExpression": update,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#r": "req_tat", "#e": "expires_at"},
        "ExpressionAttributeValues": to_item(values),
    }
