"""The GCRA arithmetic, exact in decimals."""

from __future__ import annotations

from decimal import Decimal

from sparkai.limits.gcra import WINDOW_MS, budget, increment, wait_seconds

NOW = Decimal(1_795_680_000_000)


def test_n_increments_fit_a_window_and_one_more_does_not() -> None:
    for limit in (1, 3, 7, 30, 90, 15_000, 75_000, 999_983, 10**7):
        step = increment(1, limit)
        assert step * limit <= WINDOW_MS
        assert step * (limit + 1) > WINDOW_MS


def test_budget_from_the_arrival_time() -> None:
    assert budget(None, NOW, 30).remaining == 30
    assert budget(NOW - 5000, NOW, 30).remaining == 30  # idle for a while: full
    half = budget(NOW + WINDOW_MS / 2, NOW, 30)
    assert half.remaining == 15 and half.reset_seconds == 30.0
    assert budget(NOW + WINDOW_MS, NOW, 30).remaining == 0


def test_wait_until_a_request_fits() -> None:
    inc = increment(1, 30)  # 2 s
    assert wait_seconds(NOW + WINDOW_MS - inc, NOW, inc) == 0
    assert wait_seconds(NOW + WINDOW_MS, NOW, inc) == 2
    assert wait_seconds(NOW + WINDOW_MS - inc + 1, NOW, inc) == 1  # a millisecond over: 1 s
    assert wait_seconds(NOW + 10 * WINDOW_MS, NOW, inc) == 60  # capped
