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
requests change nothing.

The same update reserves the request's worst-case cost against the account's monthly spend limit:
the item carries `spend_month` (YYYY-MM) and `spend_usd`. Within the month the spend is added under
`spend_usd <= limit - cost`; when the month changes the condition `spend_month < :m` lets the update
restart the counter. The item expires (TTL) only after the month it counts has ended, so an idle
account never loses its month's spend; the durable record of spend is the usage ledger.

Settling is one write as well: a TransactWriteItems that returns the unused part of the reservation
(at most what of it is still unelapsed, never budget others have since used), corrects the spend to
the real cost, adds the answer to the ledger's daily row and puts a settle marker keyed by the
completion id under attribute_not_exists, so a replayed settle is cancelled as a whole.
"""

from __future__ import annotations

import calendar
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from sparkai.dynamo import Item, get_decimal, get_str, to_attr, to_item
from sparkai.errors import LimiterUnavailableError, RateLimitExceededError, SpendLimitExceededError
from sparkai.keys.records import Principal
from sparkai.limits.port import BudgetStatus, RateLimitStatus, Reservation
from sparkai.observability import logger
from sparkai.plans import plan_name
from sparkai.usage.ledger import aggregate_update, marker_put
from sparkai.usage.pricing import usd

if TYPE_CHECKING:
    from types_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from sparkai.aws import DynamoDBFactory
    from sparkai.usage.ledger import Charge

WINDOW_MS = Decimal(60_000)
_QUANTUM = Decimal("0.000001")  # tat precision: a nanosecond, exact in DynamoDB's 38 digits
_TTL_MARGIN_S = 120
_MAX_HINTS = 10_000
_MONTH_TTL_MARGIN_S = 7 * 24 * 3600  # the spend counter outlives its month by a week


@dataclass(frozen=True)
class _State:
    """What the item held (or is guessed to hold): two arrival times and the month's spend."""

    req_tat: Decimal | None = None
    tok_tat: Decimal | None = None
    spend_month: str | None = None
    spend_usd: Decimal = Decimal(0)


def _month_of(now_ms: Decimal) -> tuple[str, str, int]:
    """(YYYY-MM, YYYY-MM-DD, epoch seconds the month ends) for `now_ms`, in UTC."""
    moment = datetime.fromtimestamp(float(now_ms) / 1000, UTC)
    year, month = moment.year, moment.month
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return f"{year:04d}-{month:02d}", moment.strftime("%Y-%m-%d"), calendar.timegm(end.timetuple())


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


def _state(item: Mapping[str, Mapping[str, Any]] | None) -> _State:
    return _State(
        get_decimal(item, "req_tat"),
        get_decimal(item, "tok_tat"),
        get_str(item, "spend_month"),
        get_decimal(item, "spend_usd") or Decimal(0),
    )


def _unelapsed(refund: Decimal, reserved_until: Decimal | None, now: Decimal) -> Decimal:
    """At most what of a reservation ending at `reserved_until` is still ahead of `now`."""
    if reserved_until is None:  # a reservation from before this field existed: as before
        return refund
    return max(Decimal(0), min(refund, reserved_until - now))


def _update_expression(sets: list[str], adds: list[str]) -> str:
    # Money is changed with ADD, never `SET x = x + :d`: ADD is exact decimal arithmetic in DynamoDB
    # and in moto alike (moto's SET arithmetic cannot read back what it wrote for 3E-7 or 0E-7).
    clauses = ["SET " + ", ".join(sets)] if sets else []
    if adds:
        clauses.append("ADD " + ", ".join(adds))
    return " ".join(clauses)


class DynamoDBRateLimiter:
    def __init__(
        self,
        table_name: str,
        client_factory: DynamoDBFactory,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 10,
        usage_table: str = "",
    ) -> None:
        self._table = table_name
        self._usage_table = usage_table
        self._client_factory = client_factory
        self._clock = clock
        self._max_attempts = max_attempts
        # Last tats this process saw per account: a guess of busy/idle that saves a retry.
        self._hints: dict[str, _State] = {}

    def _now_ms(self) -> Decimal:
        return Decimal(repr(self._clock() * 1000)).quantize(_QUANTUM, rounding=ROUND_FLOOR)

    def reserve(
        self, principal: Principal, tokens: int, *, spend_usd: Decimal = Decimal(0)
    ) -> Reservation:
        limits = principal.limits
        now = self._now_ms()
        month, day, month_end = _month_of(now)
        req_inc = _increment(1, limits.requests_per_minute)
        tok_inc = _increment(tokens, limits.tokens_per_minute)
        hint = self._hints.get(principal.account_id, _State())
        for _ in range(self._max_attempts):
            # A counter already in a later month (another instance's clock is ahead) is that month.
            spend_month = max(month, hint.spend_month or month)
            if principal.spend_limit_usd is not None and spend_usd > principal.spend_limit_usd:
                # Alone above the limit: no state can make it fit (the hint only words the message).
                self._refuse_if_over_budget(principal, spend_usd, hint, spend_month)
            try:
                response = self._client_factory().update_item(
                    **self._reserve_request(
                        principal, now, hint, req_inc, tok_inc, spend_usd, spend_month, month_end
                    ),
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise self._unavailable(exc) from exc
                # The item the condition saw (ReturnValuesOnConditionCheckFailure), untyped in
                # botocore's ClientError response.
                current = _state(cast("dict[str, Any] | None", exc.response.get("Item")))
                self._remember(principal.account_id, current)
                self._refuse_if_over_budget(
                    principal, spend_usd, current, max(month, current.spend_month or month)
                )
                self._refuse_if_over(principal, tokens, current, now, req_inc, tok_inc)
                hint = current  # it fits; the guess of busy/idle was stale, so try again
                continue
            except BotoCoreError as exc:
                raise self._unavailable(exc) from exc
            new = _state(response.get("Attributes"))
            self._remember(principal.account_id, new)
            return Reservation(
                account_id=principal.account_id,
                limits=limits,
                tokens=tokens,
                status=RateLimitStatus(
                    requests=_budget(new.req_tat, now, limits.requests_per_minute),
                    tokens=_budget(new.tok_tat, now, limits.tokens_per_minute),
                ),
                req_tat=new.req_tat,
                tok_tat=new.tok_tat,
                spend_usd=spend_usd,
                spend_month=spend_month,
                day=day,
            )
        raise LimiterUnavailableError("The rate limiter is under heavy contention; please retry.")

    def settle(
        self,
        reservation: Reservation,
        used_tokens: int,
        *,
        served: bool,
        charge: Charge | None = None,
    ) -> None:
        """Return what was reserved but not used (tokens; the request if nothing was served; the
        spend above the real cost) and, with a `charge`, add it to the ledger exactly once.

        Failures are logged, never raised: the answer has been produced already, and what the
        reservation holds is at least what was used (except tokens beyond max_tokens)."""
        now = self._now_ms()
        cost = charge.cost_usd if charge is not None else Decimal(0)
        spend_delta = cost - reservation.spend_usd if (served or charge) else -reservation.spend_usd
        try:
            self._settle(reservation, used_tokens, served, charge, now, spend_delta)
            self._after_settle(reservation, used_tokens, served, now, spend_delta)
        except (BotoCoreError, ClientError):
            logger.exception(
                "limiter.settle_failed",
                extra={
                    "account_id": reservation.account_id,
                    "completion_id": charge.completion_id if charge else None,
                    "cost_usd": usd(cost),
                },
            )

    def _settle(
        self,
        reservation: Reservation,
        used_tokens: int,
        served: bool,
        charge: Charge | None,
        now: Decimal,
        spend_delta: Decimal,
    ) -> None:
        update = self._settle_update(reservation, used_tokens, served, now, spend_delta)
        client = self._client_factory()
        if charge is None:
            if update is None:
                return
            try:
                client.update_item(**update)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                # The spend counter has moved to another month: leave it, return the rest.
                retry = self._settle_update(reservation, used_tokens, served, now, Decimal(0))
                if retry is not None:
                    client.update_item(**retry)
            return
        if not self._usage_table:
            if update is not None:
                client.update_item(**update)
            return
        for attempt in (
            update,
            self._settle_update(reservation, used_tokens, served, now, Decimal(0)),
        ):
            # The limiter's update is built as update_item's arguments: the same keys as a
            # transaction's Update (the stubs type the two as different TypedDicts).
            items: list[TransactWriteItemTypeDef] = (
                [cast("TransactWriteItemTypeDef", {"Update": attempt})]
                if attempt is not None
                else []
            )
            items += [
                aggregate_update(self._usage_table, charge),
                marker_put(self._usage_table, charge, int(now / 1000)),
            ]
            try:
                # The completion id as the request token: botocore's own retries of a lost
                # response are answered as the same transaction (and the marker guards beyond).
                client.transact_write_items(
                    TransactItems=items, ClientRequestToken=charge.completion_id[:36]
                )
                return
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", []) or []]
                if reasons and reasons[-1] == "ConditionalCheckFailed":
                    logger.info(
                        "usage.settle_replayed", extra={"completion_id": charge.completion_id}
                    )
                    return  # settled before: counting it again would double-bill
                if not (reasons and reasons[0] == "ConditionalCheckFailed" and attempt is update):
                    raise
                # Only the spend month moved under us: settle again without touching the counter.

        # -- internals ----------------------------------------------------------------------------------

    def _reserve_request(
        self,
        principal: Principal,
        now: Decimal,
        hint: _State,
        req_inc: Decimal,
        tok_inc: Decimal,
        spend_usd: Decimal,
        spend_month: str,
        month_end: int,
    ) -> dict[str, Any]:
        names = {
            "#r": "req_tat",
            "#t": "tok_tat",
            "#e": "expires_at",
            "#sm": "spend_month",
            "#s": "spend_usd",
        }
        # The spend counter must outlive its month, whatever the budgets' own refill time.
        expires = max(math.ceil(now / 1000) + 60 + _TTL_MARGIN_S, month_end + _MONTH_TTL_MARGIN_S)
        values = to_item({":now": now, ":exp": expires, ":m": spend_month, ":cost": spend_usd})
        conditions, sets, adds = [], ["#e = :exp"], []
        for attr, tat, inc, tag in (
            ("#r", hint.req_tat, req_inc, "r"),
            ("#t", hint.tok_tat, tok_inc, "t"),
        ):
            if tat is not None and tat > now:  # busy: advance relative to the stored value
                values[f":{tag}inc"] = to_attr(inc)
                values[f":{tag}max"] = to_attr(now + WINDOW_MS - inc)
                conditions.append(f"({attr} > :now AND {attr} <= :{tag}max)")
                sets.append(f"{attr} = {attr} + :{tag}inc")
            else:  # idle: restart from now
                values[f":{tag}new"] = to_attr(now + inc)
                conditions.append(f"(attribute_not_exists({attr}) OR {attr} <= :now)")
                sets.append(f"{attr} = :{tag}new")
        limit = principal.spend_limit_usd
        if hint.spend_month == spend_month:  # this month's counter exists: add to it
            conditions.append("#sm = :m")
            adds.append("#s :cost")
            if limit is not None:
                values[":smax"] = to_attr(limit - spend_usd)
                conditions.append("#s <= :smax")
        else:  # no counter yet, or last month's: this month starts with this request
            conditions.append("(attribute_not_exists(#sm) OR #sm < :m)")
            sets += ["#sm = :m", "#s = :cost"]
        return {
            "TableName": self._table,
            "Key": to_item({"account_id": principal.account_id}),
            "UpdateExpression": _update_expression(sets, adds),
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _after_settle(
        self,
        reservation: Reservation,
        used_tokens: int,
        served: bool,
        now: Decimal,
        spend_delta: Decimal,
    ) -> None:
        """A transaction returns no attributes, so move this process's busy/idle guess by what the
        settle wrote: the next reserve then usually needs no retry (1 round trip, not 2)."""
        hint = self._hints.get(reservation.account_id)
        update = self._settle_update(reservation, used_tokens, served, now, spend_delta)
        if hint is None or update is None:
            return
        values = update["ExpressionAttributeValues"]
        sets = update["UpdateExpression"]
        tok, req = hint.tok_tat, hint.req_tat
        if tok is not None and ":dt" in values:
            step = Decimal(values[":dt"]["N"])
            tok = tok + step if "#t = if_not_exists(#t, :now) +" in sets else tok - step
        if req is not None and ":dr" in values:
            req = req - Decimal(values[":dr"]["N"])
        self._remember(
            reservation.account_id,
            _State(
                req if req is not None and req > now else None,
                tok if tok is not None and tok > now else None,
                hint.spend_month,
                hint.spend_usd
                + (spend_delta if hint.spend_month == reservation.spend_month else 0),
            ),
        )

    def _settle_update(
        self,
        reservation: Reservation,
        used_tokens: int,
        served: bool,
        now: Decimal,
        spend_delta: Decimal,
    ) -> dict[str, Any] | None:
        """The limiter item's part of a settle, or None when nothing changes."""
        limits = reservation.limits
        names: dict[str, str] = {}
        values: Item = {}
        sets, adds = [], []
        delta_tokens = used_tokens - reservation.tokens
        if delta_tokens > 0:  # the model used more than reserved: charge the difference
            names["#t"] = "tok_tat"
            values[":dt"] = to_attr(_increment(delta_tokens, limits.tokens_per_minute))
            sets.append("#t = if_not_exists(#t, :now) + :dt")
        elif delta_tokens < 0:
            refund = _unelapsed(
                _increment(-delta_tokens, limits.tokens_per_minute), reservation.tok_tat, now
            )
            if refund > 0:
                names["#t"] = "tok_tat"
                values[":dt"] = to_attr(refund)
                sets.append("#t = if_not_exists(#t, :now) - :dt")
        if not served:
            refund = _unelapsed(_increment(1, limits.requests_per_minute), reservation.req_tat, now)
            if refund > 0:
                names["#r"] = "req_tat"
                values[":dr"] = to_attr(refund)
                sets.append("#r = if_not_exists(#r, :now) - :dr")
        condition = None
        if spend_delta and reservation.spend_month:
            names["#s"], names["#sm"] = "spend_usd", "spend_month"
            values[":ds"], values[":m"] = to_attr(spend_delta), to_attr(reservation.spend_month)
            adds.append("#s :ds")
            condition = "#sm = :m"  # never correct another month's counter
        if not sets and not adds:
            return None
        if any(":now" in part for part in sets):  # DynamoDB refuses unused values
            values[":now"] = to_attr(now)
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item({"account_id": reservation.account_id}),
            "UpdateExpression": _update_expression(sets, adds),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if condition:
            update["ConditionExpression"] = condition
        return update

    def _refuse_if_over_budget(
        self, principal: Principal, spend_usd: Decimal, state: _State, spend_month: str
    ) -> None:
        limit = principal.spend_limit_usd
        if limit is None:
            return
        spent = state.spend_usd if state.spend_month == spend_month else Decimal(0)
        if spent + spend_usd <= limit:
            return
        raise SpendLimitExceededError(
            f"You exceeded your monthly spend limit of ${usd(limit)}: ${usd(spent)} is used or "
            f"reserved in {spend_month}, and this request could cost up to ${usd(spend_usd)} "
            "(prompt plus max_tokens). Lower max_tokens, or ask for a higher limit.",
            limit_usd=limit,
            month_to_date_usd=spent,
        )

    def _refuse_if_over(
        self,
        principal: Principal,
        tokens: int,
        current: _State,
        now: Decimal,
        req_inc: Decimal,
        tok_inc: Decimal,
    ) -> None:
        limits = principal.limits
        req_wait = _wait_seconds(current.req_tat, now, req_inc)
        tok_wait = _wait_seconds(current.tok_tat, now, tok_inc)
        if not req_wait and not tok_wait:
            return
        plan = plan_name(principal.plan)
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
                requests=_budget(current.req_tat, now, limits.requests_per_minute),
                tokens=_budget(current.tok_tat, now, limits.tokens_per_minute),
            ),
        )

    def _remember(self, account_id: str, state: _State) -> None:
        if len(self._hints) >= _MAX_HINTS:
            self._hints.clear()
        self._hints[account_id] = state

    def _unavailable(self, exc: Exception) -> LimiterUnavailableError:
        logger.error("limiter.unavailable", extra={"error": type(exc).__name__})
        return LimiterUnavailableError(
            "Rate limits cannot be checked right now, so the request was not run; please retry."
        )
