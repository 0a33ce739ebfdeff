"""A GCRA rate limiter in DynamoDB: two budgets per account, reserved in one conditional update.

The budgets' arithmetic and refusals are in `gcra`, the item's update expressions in
`expressions`; this adapter runs them. Refused requests change nothing. A wrong guess of busy/idle
fails its condition and returns the current item (ReturnValuesOnConditionCheckFailure), from which
the next try is exact.

Settling is one write as well: a TransactWriteItems that returns the unused part of the reservation
(at most what of it is still unelapsed, never budget others have since used), corrects the spend to
the real cost, adds the answer to the ledger's daily row and puts a settle marker keyed by the
completion id under attribute_not_exists, so a replayed settle is cancelled as a whole.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from sparkai.dynamo import conditional_check_failed
from sparkai.errors import LimiterUnavailableError
from sparkai.keys.records import Principal
from sparkai.limits.expressions import SettleUpdate, reserve_request, settle_update
from sparkai.limits.gcra import (
    QUANTUM,
    State,
    increment,
    month_of,
    refuse_if_over,
    refuse_if_over_budget,
    refuse_if_over_trial,
    state_of,
    status,
)
from sparkai.limits.port import LimitsChanged, Reservation, StaleKeyGuess
from sparkai.limits.published import with_current_limits
from sparkai.observability import count_failure, logger
from sparkai.usage.ledger import aggregate_update, marker_put
from sparkai.usage.pricing import usd

if TYPE_CHECKING:
    from types_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from sparkai.aws import DynamoDBFactory
    from sparkai.usage.ledger import Charge

_MAX_HINTS = 10_000


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
        self._hints: dict[str, State] = {}

    def _now_ms(self) -> Decimal:
        return Decimal(repr(self._clock() * 1000)).quantize(QUANTUM, rounding=ROUND_FLOOR)

    def reserve(
        self,
        principal: Principal,
        tokens: int,
        *,
        spend_usd: Decimal = Decimal(0),
        key_epoch: int | None = None,
    ) -> Reservation:
        """Reserve, or refuse (429) from what the item holds. With `key_epoch` (a key this process
        remembers), only while the account's keys epoch is that value: StaleKeyGuess otherwise,
        and every refusal is then one the store confirmed at that epoch. LimitsChanged when the
        principal's copy of the account's limits is behind the published ones."""
        limits = principal.limits
        now = self._now_ms()
        month, day, month_end = month_of(now)
        req_inc = increment(1, limits.requests_per_minute)
        tok_inc = increment(tokens, limits.tokens_per_minute)
        hint = self._hints.get(principal.account_id, State())
        if (fresh := with_current_limits(principal, hint.published)) is not None:
            raise LimitsChanged(fresh)  # an earlier answer showed the change: no call needed
        for _ in range(self._max_attempts):
            # A counter already in a later month (another instance's clock is ahead) is that month.
            spend_month = max(month, hint.spend_month or month)
            # Above the spend limit or a trial's credit alone: not refused here, as this copy of
            # the limits may be stale (a budget raised or a trial ended since); the write's
            # condition fails and the item decides. A remembered key's limits are only a guess:
            # its own check decides.
            if key_epoch is not None and (
                (principal.spend_limit_usd is not None and spend_usd > principal.spend_limit_usd)
                or (
                    principal.trial_credit_usd is not None
                    and spend_usd > principal.trial_credit_usd
                )
            ):
                raise StaleKeyGuess(principal.account_id)
            try:
                response = self._client_factory().update_item(
                    **reserve_request(
                        self._table,
                        principal,
                        now,
                        hint,
                        req_inc,
                        tok_inc,
                        spend_usd,
                        spend_month,
                        month_end,
                        key_epoch,
                    ),
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if not conditional_check_failed(exc):
                    raise self._unavailable(exc) from exc
                # The item the condition saw (ReturnValuesOnConditionCheckFailure), untyped in
                # botocore's ClientError response.
                current = state_of(cast("dict[str, Any] | None", exc.response.get("Item")))
                if key_epoch is not None and current.keys_epoch != key_epoch:
                    raise StaleKeyGuess(principal.account_id) from None
                self._remember(principal.account_id, current)
                if (fresh := with_current_limits(principal, current.published)) is not None:
                    raise LimitsChanged(fresh) from None
                refuse_if_over_budget(
                    principal, spend_usd, current, max(month, current.spend_month or month)
                )
                refuse_if_over_trial(principal, spend_usd, current)
                refuse_if_over(principal, tokens, current, now, req_inc, tok_inc)
                hint = current  # it fits; the guess of busy/idle was stale, so try again
                continue
            except BotoCoreError as exc:
                raise self._unavailable(exc) from exc
            new = state_of(response.get("Attributes"))
            self._remember(principal.account_id, new)
            return Reservation(
                account_id=principal.account_id,
                limits=limits,
                tokens=tokens,
                status=status(new, now, limits),
                req_tat=new.req_tat,
                tok_tat=new.tok_tat,
                spend_usd=spend_usd,
                spend_month=spend_month,
                day=day,
                key_epoch=new.keys_epoch,
                trial=principal.trial_credit_usd is not None,
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
        update = settle_update(
            self._table, reservation, used_tokens, served, now, spend_delta, spend_delta
        )

        # The same settle without the month's spend correction: for when the counter has moved on
        # to another month under us (its condition failed). Rare, so built only then. A trial's
        # lifetime counter is corrected either way.
        def without_spend() -> SettleUpdate | None:
            return settle_update(
                self._table, reservation, used_tokens, served, now, Decimal(0), spend_delta
            )

        try:
            self._settle(update, without_spend, charge, now)
            self._after_settle(reservation, update, now)
        except (BotoCoreError, ClientError):
            # Served but not recorded (lost revenue, limits not moved): SettleFailuresAlarm.
            count_failure("SettleFailures")
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
        update: SettleUpdate | None,
        without_spend: Callable[[], SettleUpdate | None],
        charge: Charge | None,
        now: Decimal,
    ) -> None:
        client = self._client_factory()
        if charge is None:
            if update is None:
                return
            try:
                client.update_item(**update.request)
            except ClientError as exc:
                if not conditional_check_failed(exc):
                    raise
                # The spend counter has moved to another month: leave it, return the rest.
                fallback = without_spend()
                if fallback is not None:
                    client.update_item(**fallback.request)
            return
        if not self._usage_table:
            if update is not None:
                client.update_item(**update.request)
            return
        for attempt in _first_then(update, without_spend):
            # The limiter's update is built as update_item's arguments: the same keys as a
            # transaction's Update (the stubs type the two as different TypedDicts).
            items: list[TransactWriteItemTypeDef] = (
                [cast("TransactWriteItemTypeDef", {"Update": attempt.request})]
                if attempt is not None
                else []
            )
            items += [
                aggregate_update(self._usage_table, charge),
                marker_put(self._usage_table, charge, int(now / 1000)),
            ]
            try:
                # botocore's own retries of a lost response send the same items with the same
                # token, and are answered as the same transaction (the marker guards beyond).
                # The token is derived from the items: the attempt without the spend correction
                # is another transaction, and DynamoDB refuses a token reused with other items
                # (IdempotentParameterMismatch), which would leave the charge only logged.
                client.transact_write_items(TransactItems=items, ClientRequestToken=_token(items))
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

    def _after_settle(
        self, reservation: Reservation, update: SettleUpdate | None, now: Decimal
    ) -> None:
        """A transaction returns no attributes, so move this process's busy/idle guess by what the
        settle wrote: the next reserve then usually needs no retry (1 round trip, not 2)."""
        hint = self._hints.get(reservation.account_id)
        if hint is None or update is None:
            return
        tok = hint.tok_tat + update.tok_tat_delta if hint.tok_tat is not None else None
        req = hint.req_tat + update.req_tat_delta if hint.req_tat is not None else None
        self._remember(
            reservation.account_id,
            replace(  # the epochs and published limits it saw stay known
                hint,
                req_tat=req if req is not None and req > now else None,
                tok_tat=tok if tok is not None and tok > now else None,
                spend_usd=hint.spend_usd
                + (update.spend_delta if hint.spend_month == reservation.spend_month else 0),
                trial_spent_usd=hint.trial_spent_usd + update.trial_delta,
            ),
        )

    def _remember(self, account_id: str, state: State) -> None:
        if len(self._hints) >= _MAX_HINTS:
            self._hints.clear()
        self._hints[account_id] = state

    def _unavailable(self, exc: Exception) -> LimiterUnavailableError:
        logger.error("limiter.unavailable", extra={"error": type(exc).__name__})
        return LimiterUnavailableError(
            "Rate limits cannot be checked right now, so the request was not run; please retry."
        )


def _token(items: list[TransactWriteItemTypeDef]) -> str:
    """A ClientRequestToken (at most 36 characters) that names exactly these items."""
    text = json.dumps(items, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:36]


def _first_then[T](first: T, fallback: Callable[[], T]) -> Iterator[T]:
    """`first`, then (only if asked for) what `fallback` builds."""
    yield first
    yield fallback()
