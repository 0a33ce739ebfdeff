"""Exact per-account rate limits (requests/min and tokens/min) shared by every Lambda instance."""

from sparkai.limits.limiter import (
    BudgetStatus,
    DynamoDBRateLimiter,
    RateLimiter,
    RateLimitStatus,
    Reservation,
)

__all__ = ["BudgetStatus", "DynamoDBRateLimiter", "RateLimitStatus", "RateLimiter", "Reservation"]
