"""The limiter item's two writes, as update_item arguments: reserve and settle.

Reserve never needs a read first: when a budget is busy (tat > now) the increment is relative
(`tat = tat + inc`), so concurrent writers do not conflict; when it is idle the update sets
`tat = now + inc` under `tat <= now`. A wrong guess of busy/idle fails its condition, and the
caller retries from the item the failure returns.

The same update reserves the request's worst-case cost against the account's monthly spend limit:
the item carries `spend_month` (YYYY-MM) and `spend_usd`. Within the month the spend is added under
`spend_usd <= limit - cost`; when the month changes the condition `spend_month < :m` lets the update
restart the counter. The item expires (TTL) only after the month it counts has ended, so an idle
account never loses its month's spend; the durable record of spend is the usage ledger.

A trial account's one-off credit is reserved the same way, against a counter no month resets
(`trial_spent_usd`, added under `trial_spent_usd <= credit - cost`). That counter is the only
record of how much of the credit is gone, so a trial's item never expires: its reservation
removes the TTL attribute (and sparkai.keys.epochs leaves it absent), or an idle trial account
would come back with its credit refilled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sparkai.dynamo import Item, to_attr, to_item
from sparkai.keys.records import Principal
from sparkai.limits.gcra import TRIAL_SPENT, TTL_MARGIN_S, WINDOW_MS, State, increment, unelapsed
from sparkai.limits.port import Reservation
from sparkai.limits.published import EPOCH

_MONTH_TTL_MARGIN_S = 7 * 24 * 3600  # the spend counter outlives its month by a week


def _update_expression(sets: list[str], adds: list[str], removes: list[str] | None = None) -> str:
    # Money is changed with ADD, never `SET x = x + :d`: ADD is exact decimal arithmetic in DynamoDB
    # and in moto alike (moto's SET arithmetic cannot read back what it wrote for 3E-7 or 0E-7).
    clauses = ["SET " + ", ".join(sets)] if sets else []
    if adds:
        clauses.append("ADD " + ", ".join(adds))
    if removes:
        clauses.append("REMOVE " + ", ".join(removes))
    return " ".join(clauses)


def reserve_request(
    table: str,
    principal: Principal,
    now: Decimal,
    hint: State,
    req_inc: Decimal,
    tok_inc: Decimal,
    spend_usd: Decimal,
    spend_month: str,
    month_end: int,
    key_epoch: int | None = None,
) -> dict[str, Any]:
    """The conditional update that reserves one request, `tok_inc` of tokens and `spend_usd`,
    shaped by the guess `hint` of what the item holds; with `key_epoch`, only while the account's
    keys epoch is still that value (a key remembered as valid at that epoch)."""
    names = {
        "#r": "req_tat",
        "#t": "tok_tat",
        "#sm": "spend_month",
        "#s": "spend_usd",
    }
    values = to_item({":now": now, ":m": spend_month, ":cost": spend_usd})
    conditions: list[str] = []
    sets: list[str] = []
    adds: list[str] = []
    removes: list[str] = []
    credit = principal.trial_credit_usd
    if credit is None:
        # An item holding published limits never expires (sparkai.limits.published), so a copy
        # of them (a limits epoch) leaves its expiry alone.
        if not principal.limits_epoch:
            # The spend counter must outlive its month, whatever the budgets' own refill time.
            expires = max(
                math.ceil(now / 1000) + 60 + TTL_MARGIN_S, month_end + _MONTH_TTL_MARGIN_S
            )
            names["#e"], values[":exp"] = "expires_at", to_attr(expires)
            sets.append("#e = :exp")
    else:  # a trial: its lifetime counter lives on this item, which must never expire
        names["#e"] = "expires_at"
        removes.append("#e")
        names["#ts"] = TRIAL_SPENT
        values[":trial_max"] = to_attr(credit - spend_usd)
        if credit >= spend_usd:
            conditions.append("(attribute_not_exists(#ts) OR #ts <= :trial_max)")
        else:  # above the credit alone: never admitted; the failure returns the item to decide
            conditions.append("#ts <= :trial_max")
        adds.append("#ts :cost")
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
        if limit is not None and spend_usd > limit:
            # Alone above this copy's limit, which may be stale (a budget raised since, this key's
            # copy behind the index): a condition that never holds, so the item answers, with its
            # published limits (LimitsChanged) or a refusal. The same one round trip; no change.
            values[":smax"] = to_attr(limit - spend_usd)
            conditions.append("#s <= :smax")
    # Only with the account's current limits (sparkai.limits.published).
    names["#le"] = EPOCH
    values[":le"] = to_attr(principal.limits_epoch)
    conditions.append("(attribute_not_exists(#le) OR #le = :le)")
    if key_epoch is not None:
        names["#ke"] = "keys_epoch"
        values[":ke"] = to_attr(key_epoch)
        conditions.append("#ke = :ke" if key_epoch else "(attribute_not_exists(#ke) OR #ke = :ke)")
    return {
        "TableName": table,
        "Key": to_item({"account_id": principal.account_id}),
        "UpdateExpression": _update_expression(sets, adds, removes),
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


@dataclass(frozen=True)
class SettleUpdate:
    """The limiter item's part of a settle, and what it changes: signed steps of each arrival time
    (a charge moves a tat forward, a refund back) and of the spend counter. The deltas let the
    limiter move its busy/idle guess without reading the item back."""

    request: dict[str, Any]  # update_item's arguments
    tok_tat_delta: Decimal = Decimal(0)
    req_tat_delta: Decimal = Decimal(0)
    spend_delta: Decimal = Decimal(0)
    trial_delta: Decimal = Decimal(0)


def settle_update(
    table: str,
    reservation: Reservation,
    used_tokens: int,
    served: bool,
    now: Decimal,
    spend_delta: Decimal,
    trial_delta: Decimal = Decimal(0),
) -> SettleUpdate | None:
    """Return what was reserved but not used (tokens; the request if nothing was served; the spend
    above the real cost, on the month's counter and, for a trial, on its lifetime counter), or
    None when nothing changes. The trial's correction has no condition: no month bounds it."""
    limits = reservation.limits
    names: dict[str, str] = {}
    values: Item = {}
    sets: list[str] = []
    adds: list[str] = []
    tok_step = req_step = written_spend = Decimal(0)
    delta_tokens = used_tokens - reservation.tokens
    if delta_tokens > 0:  # the model used more than reserved: charge the difference
        tok_step = increment(delta_tokens, limits.tokens_per_minute)
        names["#t"] = "tok_tat"
        values[":dt"] = to_attr(tok_step)
        sets.append("#t = if_not_exists(#t, :now) + :dt")
    elif delta_tokens < 0:
        refund = unelapsed(
            increment(-delta_tokens, limits.tokens_per_minute), reservation.tok_tat, now
        )
        if refund > 0:
            tok_step = -refund
            names["#t"] = "tok_tat"
            values[":dt"] = to_attr(refund)
            sets.append("#t = if_not_exists(#t, :now) - :dt")
    if not served:
        refund = unelapsed(increment(1, limits.requests_per_minute), reservation.req_tat, now)
        if refund > 0:
            req_step = -refund
            names["#r"] = "req_tat"
            values[":dr"] = to_attr(refund)
            sets.append("#r = if_not_exists(#r, :now) - :dr")
    condition = None
    if spend_delta and reservation.spend_month:
        written_spend = spend_delta
        names["#s"], names["#sm"] = "spend_usd", "spend_month"
        values[":ds"], values[":m"] = to_attr(spend_delta), to_attr(reservation.spend_month)
        adds.append("#s :ds")
        condition = "#sm = :m"  # never correct another month's counter
    if trial_delta and reservation.trial:
        names["#ts"] = TRIAL_SPENT
        values[":dtrial"] = to_attr(trial_delta)
        adds.append("#ts :dtrial")
    if not sets and not adds:
        return None
    if sets:  # every SET above reads :now (DynamoDB refuses unused values)
        values[":now"] = to_attr(now)
    request: dict[str, Any] = {
        "TableName": table,
        "Key": to_item({"account_id": reservation.account_id}),
        "UpdateExpression": _update_expression(sets, adds),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    if condition:
        request["ConditionExpression"] = condition
    return SettleUpdate(
        request, tok_step, req_step, written_spend, trial_delta if reservation.trial else Decimal(0)
    )
