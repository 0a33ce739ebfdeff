"""Exact per-account rate limits (requests/min and tokens/min) shared by every Lambda instance."""

from sparkai.limits.port import (
    BudgetStatus,
    LimitsChanged,
    RateLimiter,
    RateLimitStatus,
    Reservation,
    StaleKeyGuess,
)

__all__ = [
    "BudgetStatus",
    "LimitsChanged",
    "RateLimitStatus",
    "RateLimiter",
    "Reservation",
    "StaleKeyGuess",
]
