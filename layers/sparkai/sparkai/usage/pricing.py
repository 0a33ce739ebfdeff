"""The one place a cost is computed: tokens x the catalogue's price per 1K tokens, exact.

Decimal, never float, never rounded: (price x tokens) shifted three places is exact at any size,
so an invoice can sum ledger rows without drift.
"""

from __future__ import annotations

from decimal import Decimal

from sparkai.catalog import MODELS


def price_per_1k_usd(model_id: str) -> Decimal:
    return MODELS[model_id].price_per_1k_tokens


def cost_usd(price_per_1k: Decimal, tokens: int) -> Decimal:
    """USD for `tokens` at `price_per_1k` (a power-of-ten shift, so no rounding can happen)."""
    return (price_per_1k * tokens).scaleb(-3)


def usd(amount: Decimal) -> str:
    """The decimal string the API shows: every digit, no exponent, no trailing zeros."""
    text = format(amount.normalize(), "f")
    return "0" if text in {"-0", ""} else text
