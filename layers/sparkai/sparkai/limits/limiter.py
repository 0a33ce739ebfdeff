"""A GCRA rate limiter in DynamoDB: two budgets per account, reserved in one conditional update.

Each budget (requests, tokens) is a generic cell rate algorithm: the item stores its "theoretical
arrival time" (tat, epoch ms). A request costing `c` units of a budget with limit `L` per minute
advances tat by c * 60000 / L ms and is allowed while the new tat stays within one minute of now.
That is a token bucket that refills continuously (no burst at minute boundaries) and empties
completely after a minute of silence; requests and tokens each have their own tat, so their
windows and resets are independent.

The update never needs a read first: when a budget is busy (tat > now) the increment is relative
(`tat = tat + inc`), so concurrent writers do not conflict; when it is idle the update sets
`tat = now + inc` under `tat <= now`. A wrong guess of busy/idle fails its condition and returns
the current item (ReturnValuesOnConditionCheckFailure), from which the next try is exact. Refused
requests change nothing. Counters expire through the table's TTL once the bucket is full again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sparkai.errors import LimiterUnavailableError, RateLimitExceededError
from sparkai.keys.records import Principal
from sparkai.limits.port import BudgetStatus, RateLimitStatus, Reservation
from sparkai.observability import logger
from sparkai.plans import PLANS

WINDOW_MS = Decimal(60_000)
_QUANTUM = Decimal("0.000001")  # tat precision: a nanosecond, exact in DynamoDB's 38 digits
_TTL_MARGIN_S = 120
_MAX_HINTS = 10_000


def _increment(units: int, limit: int) -> Decimal:
    # Rounded down: N requests of a budget N fit exactly in a minute, N + 1 never do.
    return (WINDOW_MS * units / limit).quantize(_QUANTUM, rounding=ROUND_FLOOR)


def _budget(tat: Decimal | None, now: Decimal, limit: int) -> BudgetStatus:
    level = max(tat or now, now)
    remaining = math.floor((now + WINDOW_MS - level) * limit / WINDOW_MS)
    return BudgetStatus(
        limit=limit,
        remaining=max(0, min(limit, remaining)),
        reset_seconds=float((level - now) / 1000),
    )


def _wait_seconds(tat: Decimal | None, now: Decimal, inc: Decimal) -> int:
    overshoot = max(tat or now, now) + inc - (now + WINDOW_MS)
    return 0 if overshoot <= 0 else min(60, max(1, math.ceil(overshoot / 1000)))


def _tats(item: dict[str, Any] | None) -> tuple[Decimal | None, Decimal | None]:
    item = item or {}
    req = item.get("req_tat", {}).get("N")
    tok = item.get("tok_tat", {}).get("N")
    return (Decimal(req) if req else None, Decimal(tok) if tok else None)


def _plan_name(plan_id: str) -> str:
    plan = PLANS.get(plan_id)
    return plan.name if plan else plan_id


class DynamoDBRateLimiter:
    def __init__(
        self,
        table_name: str,
        client_factory: Callable[[], Any],
        clock: Callable[[], float] = time.time,
        max_attempts: int = 10,
    ) -> None:
        self._table = table_name
        self._client_factory = client_factory
        self._clock = clock
        self._max_attempts = max_attempts
        # Last tats this process saw per account: a guess of busy/idle that saves a retry.
        self._hints: dict[str, tuple[Decimal | None, Decimal | None]] = {}

    def _now_ms(self) -> Decimal:
        return Decimal(repr(self._clock() * 1000)).quantize(_QUANTUM, rounding=ROUND_FLOOR)

    def reserve(self, principal: Principal, tokens: int) -> Reservation:
        limits = principal.limits
        now = self._now_ms()
        req_inc = _increment(1, limits.requests_per_minute)
        tok_inc = _increment(tokens, limits.tokens_per_minute)
        hint = self._hints.get(principal.account_id, (None, None))
        for _ in range(self._max_attempts):
            try:
                response = self._client_factory().update_item(
                    **self._reserve_request(principal.account_id, now, hint, req_inc, tok_inc),
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise self._unavailable(exc) from exc
                current = _tats(exc.response.get("Item"))
                self._refuse_if_over(principal, tokens, current, now, req_inc, tok_inc)
                hint = current  # it fits; the guess of busy/idle was stale, so try again
                continue
            except BotoCoreError as exc:
                raise self._unavailable(exc) from exc
            new = _tats(response.get("Attributes"))
            self._remember(principal.account_id, new)
            return Reservation(
                account_id=principal.account_id,
                limits=limits,
                tokens=tokens,
                status=RateLimitStatus(
                    requests=_budget(new[0], now, limits.requests_per_minute),
                    tokens=_budget(new[1], now, limits.tokens_per_minute),
                ),
            )
        raise LimiterUnavailableError("The rate limiter is under heavy contention; please retry.")

    def settle(self, reservation: Reservation, used_tokens: int, *, served: bool) -> None:
        """Return unused tokens (or charge extra ones) and, if nothing was served, the request."""
        limits = reservation.limits
        delta_tokens = used_tokens - reservation.tokens
        names: dict[str, str] = {}
        values: dict[str, Any] = {":now": {"N": str(self._now_ms())}}
        sets = []
        if delta_tokens:
            names["#t"] = "tok_tat"
            values[":dt"] = {"N": str(_increment(abs(delta_tokens), limits.tokens_per_minute))}
            sets.append(f"#t = if_not_exists(#t, :now) {'+' if delta_tokens > 0 else '-'} :dt")
        if not served:
            names["#r"] = "req_tat"
            values[":dr"] = {"N": str(_increment(1, limits.requests_per_minute))}
            sets.append("#r = if_not_exists(#r, :now) - :dr")
        if not sets:
            return
        try:
            response = self._client_factory().update_item(
                TableName=self._table,
                Key={"account_id": {"S": reservation.account_id}},
                UpdateExpression="SET " + ", ".join(sets),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",  # free in the same call: keeps the busy/idle guess fresh
            )
            self._remember(reservation.account_id, _tats(response.get("Attributes")))
        except (BotoCoreError, ClientError):
            # The reservation already counted at least as much as was used, except when the model
            # used more than reserved; either way the usage record is logged by the caller.
            logger.exception("limiter.settle_failed", extra={"account_id": reservation.account_id})

    # -- internals ----------------------------------------------------------------------------------

    def _reserve_request(
        self,
        account_id: str,
        now: Decimal,
        hint: tuple[Decimal | None, Decimal | None],
        req_inc: Decimal,
        tok_inc: Decimal,
    ) -> dict[str, Any]:
        names = {"#r": "req_tat", "#t": "tok_tat", "#e": "expires_at"}
        values: dict[str, Any] = {
            ":now": {"N": str(now)},
            ":exp": {"N": str(math.ceil(now / 1000) + 60 + _TTL_MARGIN_S)},
        }
        conditions, sets = [], ["#e = :exp"]
        for attr, tat, inc, tag in (("#r", hint[0], req_inc, "r"), ("#t", hint[1], tok_inc, "t")):
            if tat is not None and tat > now:  # busy: advance relative to the stored value
                values[f":{tag}inc"] = {"N": str(inc)}
                values[f":{tag}max"] = {"N": str(now + WINDOW_MS - inc)}
                conditions.append(f"({attr} > :now AND {attr} <= :{tag}max)")
                sets.append(f"{attr} = {attr} + :{tag}inc")
            else:  # idle: restart from now
                values[f":{tag}new"] = {"N": str(now + inc)}
                conditions.append(f"(attribute_not_exists({attr}) OR {attr} <= :now)")
                sets.append(f"{attr} = :{tag}new")
        return {
            "TableName": self._table,
            "Key": {"account_id": {"S": account_id}},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _refuse_if_over(
        self,
        principal: Principal,
        tokens: int,
        current: tuple[Decimal | None, Decimal | None],
        now: Decimal,
        req_inc: Decimal,
        tok_inc: Decimal,
    ) -> None:
        limits = principal.limits
        req_wait = _wait_seconds(current[0], now, req_inc)
        tok_wait = _wait_seconds(current[1], now, tok_inc)
        if not req_wait and not tok_wait:
            return
        self._remember(principal.account_id, current)
        plan = _plan_name(principal.plan)
        retry_after = max(req_wait, tok_wait)
        if req_wait >= tok_wait:
            limit = "requests"
            message = (
                f"Rate limit reached for requests on the {plan} plan: "
                f"{limits.requests_per_minute:,} requests per minute. Retry after {retry_after} s."
            )
        else:
            limit = "tokens"
            message = (
                f"Rate limit reached for tokens on the {plan} plan: {limits.tokens_per_minute:,} "
                f"tokens per minute, and this request needs {tokens:,} (prompt plus max_tokens). "
                f"Retry after {retry_after} s, or lower max_tokens."
            )
        raise RateLimitExceededError(
            message,
            limit=limit,
            retry_after=retry_after,
            status=RateLimitStatus(
                requests=_budget(current[0], now, limits.requests_per_minute),
                tokens=_budget(current[1], now, limits.tokens_per_minute),
            ),
        )

    def _remember(self, account_id: str, tats: tuple[Decimal | None, Decimal | None]) -> None:
        if len(self._hints) >= _MAX_HINTS:
            self._hints.clear()
        self._hints[account_id] = tats

    def _unavailable(self, exc: Exception) -> LimiterUnavailableError:
        logger.error("limiter.unavailable", extra={"error": type(exc).__name__})
        return LimiterUnavailableError(
            "Rate limits cannot be checked right now, so the request was not run; please retry."
        )
