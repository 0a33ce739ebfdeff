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


# -- a trial's lifetime counter (issue 25 §3) ----------------------------------------------------


def _placeholders(request: dict[str, object]) -> tuple[set[str], set[str]]:
    """(:values, #names) the expressions use."""
    import re

    text = f"{request['UpdateExpression']} {request.get('ConditionExpression', '')}"
    return set(re.findall(r":\w+", text)), set(re.findall(r"#\w+", text))


def test_a_trials_reservation_caps_its_counter_and_never_sets_an_expiry() -> None:
    from sparkai.keys.records import Principal
    from sparkai.limits.expressions import reserve_request

    principal = Principal("acct_1", "key_1", "starter", LIMITS, trial_credit_usd=Decimal("5"))
    # Both shapes (idle and busy budgets): every placeholder is defined once, none collides with
    # the budgets' own (":tmax" is the tokens budget's; a trial's once shadowed it).
    for hint in (State(), State(NOW + 1000, NOW + 1000, "2026-11")):
        request = reserve_request(
            "t", principal, NOW, hint, Decimal(1000), Decimal(1000), Decimal("0.25"), "2026-11", 0
        )
        values, names = _placeholders(request)
        assert values == set(request["ExpressionAttributeValues"])
        assert names == set(request["ExpressionAttributeNames"])
        assert request["ExpressionAttributeValues"][":trial_max"] == {"N": "4.75"}
        assert "(attribute_not_exists(#ts) OR #ts <= :trial_max)" in request["ConditionExpression"]
        assert "#ts :cost" in request["UpdateExpression"]
        assert request["UpdateExpression"].endswith("REMOVE #e")
        assert ":exp" not in request["ExpressionAttributeValues"]


def test_a_trials_settle_corrects_its_counter_without_a_condition() -> None:
    from dataclasses import replace

    trial = replace(_reservation(600), trial=True)
    # The month's counter moved on: the fallback settle leaves it, and still corrects the trial.
    fallback = settle_update("t", trial, 600, True, NOW, Decimal(0), Decimal("-0.004"))
    assert fallback is not None
    assert "ConditionExpression" not in fallback.request
    assert fallback.request["ExpressionAttributeValues"][":dtrial"] == {"N": "-0.004"}
    assert fallback.trial_delta == Decimal("-0.004")
    # A paid reservation never touches a trial counter.
    paid = settle_update("t", _reservation(600), 600, True, NOW, Decimal(0), Decimal("-0.004"))
    assert paid is None
