"""What the chat service needs from a rate limiter (the port) and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sparkai.keys.records import Principal
from sparkai.plans import Limits


@dataclass(frozen=True)
class BudgetStatus:
    limit: int
    remaining: int
    reset_seconds: float  # until the budget is full again


@dataclass(frozen=True)
class RateLimitStatus:
    requests: BudgetStatus
    tokens: BudgetStatus


@dataclass(frozen=True)
class Reservation:
    account_id: str
    limits: Limits
    tokens: int
    status: RateLimitStatus


class RateLimiter(Protocol):
    def reserve(self, principal: Principal, tokens: int) -> Reservation: ...

    def settle(self, reservation: Reservation, used_tokens: int, *, served: bool) -> None: ...
