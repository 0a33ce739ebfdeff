"""Parsing of headers and response objects."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from sparkaistream import ChatCompletion, Model, RateLimitInfo
from sparkaistream._types import parse_duration

from _support import RATE_HEADERS


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("20ms", 0.02),
        ("1.5s", 1.5),
        ("6m0s", 360.0),
        ("1m30.5s", 90.5),
        ("1h2m3s", 3723.0),
        ("0s", 0.0),
        ("500us", 0.0005),
        ("7", 7.0),
        ("0.25", 0.25),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", [None, "", "soon", "5x", "s", "1m 2s", "ms20"])
def test_parse_duration_rejects_garbage(text: str | None) -> None:
    assert parse_duration(text) is None


def test_rate_limit_headers() -> None:
    info = RateLimitInfo.from_headers(httpx.Headers(RATE_HEADERS))
    assert info == RateLimitInfo(
        limit_requests=30,
        remaining_requests=29,
        reset_requests=2.0,
        limit_tokens=15000,
        remaining_tokens=14970,
        reset_tokens=pytest.approx(0.12),
    )


def test_rate_limit_headers_absent_or_partial() -> None:
    assert RateLimitInfo.from_headers(httpx.Headers({"x-request-id": "r"})) is None
    partial = RateLimitInfo.from_headers(
        httpx.Headers({"X-RateLimit-Remaining-Tokens": "5", "x-ratelimit-limit-requests": "lots"})
    )
    assert partial == RateLimitInfo(remaining_tokens=5)


def test_completion_tolerates_missing_and_odd_fields() -> None:
    completion = ChatCompletion.from_dict(
        {"id": "chat-1", "choices": [{"message": None}, "junk"], "usage": 3}
    )
    assert completion.id == "chat-1"
    assert completion.usage is None
    assert len(completion.choices) == 1
    assert completion.choices[0].message.content == ""
    assert completion.choices[0].finish_reason is None


def test_model_pricing_is_decimal_and_tolerant() -> None:
    model = Model.from_dict({"id": "spark-1", "pricing": {"per_1k_tokens_usd": "0.0006"}})
    assert model.pricing is not None
    assert model.pricing.per_1k_tokens_usd == Decimal("0.0006")
    odd = Model.from_dict({"id": "x", "pricing": {"per_1k_tokens_usd": "n/a"}, "max_tokens": True})
    assert odd.pricing is not None
    assert odd.pricing.per_1k_tokens_usd is None
    assert odd.max_tokens is None
