"""The settle update carries what it changes as data (the limiter's busy/idle guess reads it)."""

from __future__ import annotations

from decimal import Decimal

from sparkai.limits.expressions import settle_update
from sparkai.limits.gcra import WINDOW_MS, State, increment, status
from sparkai.limits.port import Reservation
from sparkai.plans import Limits

NOW = Decimal(1_795_680_000_000)
LIMITS = Limits(requests_per_minute=60, tokens_per_minute=6_000)


def _reservation(tokens: int) -> Reservation:
    return Reservation(
        account_id="acct_1",
        limits=LIMITS,
        tokens=tokens,
        status=status(State(), NOW, LIMITS),
        req_tat=NOW + WINDOW_MS,
        tok_tat=NOW + WINDOW_MS,
        spend_usd=Decimal("0.01"),
        spend_month="2026-11",
    )


def test_unused_tokens_and_an_unserved_request_are_refunded_as_negative_steps() -> None:
    update = settle_update("t", _reservation(600), 100, False, NOW, Decimal("-0.01"))
    assert update is not None
    assert update.tok_tat_delta == -increment(500, LIMITS.tokens_per_minute)
    assert update.req_tat_delta == -increment(1, LIMITS.requests_per_minute)
    assert update.spend_delta == Decimal("-0.01")
    assert update.request["ConditionExpression"] == "#sm = :m"


def test_tokens_beyond_the_reservation_are_charged_as_a_positive_step() -> None:
    update = settle_update("t", _reservation(100), 160, True, NOW, Decimal(0))
    assert update is not None
    assert update.tok_tat_delta == increment(60, LIMITS.tokens_per_minute)
    assert update.req_tat_delta == 0 and update.spend_delta == 0
    assert "ConditionExpression" not in update.request


def test_an_exact_settle_writes_nothing() -> None:
    assert settle_update("t", _reservation(100), 100, True, NOW, Decimal(0)) is None
