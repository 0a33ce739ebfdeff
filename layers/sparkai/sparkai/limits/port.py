"""What the chat service needs from a rate limiter (the port) and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from sparkai.keys.records import Principal
from sparkai.plans import Limits

if TYPE_CHECKING:
    from sparkai.usage.ledger import Charge


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
    # Where this reservation ends on each budget (GCRA arrival times, epoch ms): a refund may give
    # back at most what of it has not elapsed yet (tat_after - now), never budget that later
    # requests have already used.
    req_tat: Decimal | None = None
    tok_tat: Decimal | None = None
    spend_usd: Decimal = Decimal(0)  # worst-case cost reserved against the monthly spend limit
    spend_month: str = ""  # YYYY-MM the spend was reserved in
    day: str = ""  # UTC date (YYYY-MM-DD) of admission: the ledger row the answer is charged to
    # The account's keys epoch this reservation's write saw (sparkai.keys.epochs).
    key_epoch: int = 0
    # Whether `spend_usd` was also reserved against a trial's one-off credit (settled there too).
    trial: bool = False


class LimitsChanged(Exception):
    """The account's limits moved past the principal's copy (sparkai.limits.published): nothing
    was reserved; `principal` carries the account's current limits, to check the request against
    and reserve with."""

    def __init__(self, principal: Principal) -> None:
        super().__init__(principal.account_id)
        self.principal = principal


class StaleKeyGuess(Exception):
    """A reservation made on a remembered key was refused because the account's keys changed
    since (its keys epoch moved), or before the store could say: nothing was reserved, and the
    caller checks the key again."""


class RateLimiter(Protocol):
    def reserve(
        self,
        principal: Principal,
        tokens: int,
        *,
        spend_usd: Decimal = Decimal(0),
        key_epoch: int | None = None,
    ) -> Reservation: ...

    def settle(
        self,
        reservation: Reservation,
        used_tokens: int,
        *,
        served: bool,
        charge: Charge | None = None,
    ) -> None: ...
