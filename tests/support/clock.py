"""A clock a test moves by hand: what the limiter, the reporter, the key lifecycle and the
deadlines take as `clock=`, so no test waits for real time to pass."""

from __future__ import annotations

T0 = 1_795_680_000.0  # 2026-11-26 08:00 UTC: a fixed instant in the middle of a month


class Clock:
    """`clock()` is `clock.now`, in epoch seconds; tests move `now` by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
