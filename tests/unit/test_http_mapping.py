"""The one place errors become HTTP, and the rate-limit header format."""

from __future__ import annotations

import json

import pytest

from sparkai.api.errors import body_for, error_response, headers_for, status_for
from sparkai.api.headers import format_duration, rate_limit_headers
from sparkai.errors import (
    AuthUnavailableError,
    ContextLengthExceededError,
    DashboardKeyNotFoundError,
    InvalidApiKeyError,
    InvalidRequestError,
    InvalidSessionError,
    LimiterUnavailableError,
    MethodNotAllowedError,
    ModelEndpointError,
    ModelNotFoundError,
    ModelTimeoutError,
    ModelUnavailableError,
    RateLimitExceededError,
    RequestTooLargeError,
    RouteNotFoundError,
    SparkAIError,
    UnknownModelError,
)
from sparkai.limits import BudgetStatus, RateLimitStatus

STATUS = RateLimitStatus(BudgetStatus(30, 0, 2.0), BudgetStatus(15_000, 14_000, 4.0))


@pytest.mark.parametrize(
    ("error", "status", "kind", "code"),
    [
        (InvalidRequestError("bad", param="temperature"), 400, "invalid_request_error", None),
        (UnknownModelError("no such model"), 400, "invalid_request_error", "model_not_found"),
        (
            ContextLengthExceededError("too long"),
            400,
            "invalid_request_error",
            "context_length_exceeded",
        ),
        (InvalidApiKeyError("no"), 401, "invalid_request_error", "invalid_api_key"),
        (InvalidSessionError("sign in"), 401, "invalid_request_error", "invalid_session"),
        (DashboardKeyNotFoundError("no"), 404, "invalid_request_error", "key_not_found"),
        (RouteNotFoundError("no"), 404, "invalid_request_error", "not_found"),
        (ModelNotFoundError("no"), 404, "invalid_request_error", "model_not_found"),
        (MethodNotAllowedError("no"), 405, "invalid_request_error", "method_not_allowed"),
        (RequestTooLargeError("big"), 413, "invalid_request_error", "request_too_large"),
        (
            RateLimitExceededError("slow down", limit="tokens", retry_after=3, status=STATUS),
            429,
            "tokens",
            "rate_limit_exceeded",
        ),
        (ModelEndpointError("boom"), 502, "server_error", "model_error"),
        (AuthUnavailableError("later"), 503, "server_error", "auth_unavailable"),
        (LimiterUnavailableError("later"), 503, "server_error", "rate_limiter_unavailable"),
        (ModelUnavailableError("later"), 503, "server_error", "model_unavailable"),
        (ModelTimeoutError("slow"), 504, "server_error", "model_timeout"),
        (SparkAIError("unmapped"), 500, "server_error", "internal_error"),
    ],
)
def test_each_error_has_its_status_and_shape(
    error: SparkAIError, status: int, kind: str, code: str | None
) -> None:
    assert status_for(error) == status
    body = body_for(error)
    assert body == {
        "error": {"message": error.message, "type": kind, "param": error.param, "code": code}
    }
    response = error_response(error)
    assert response.status_code == status
    assert json.loads(response.body) == body


def test_retry_and_rate_limit_headers() -> None:
    assert headers_for(ModelUnavailableError("x", retry_after=5))["retry-after"] == "5"
    assert headers_for(LimiterUnavailableError("x"))["retry-after"] == "1"
    limited = headers_for(
        RateLimitExceededError("x", limit="requests", retry_after=2, status=STATUS)
    )
    assert limited["retry-after"] == "2" and limited["x-ratelimit-remaining-requests"] == "0"
    assert "retry-after" not in headers_for(InvalidRequestError("x"))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (-1, "0s"),
        (0.0004, "1ms"),
        (0.02, "20ms"),
        (0.999, "999ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (2.0, "2s"),
        (12.34, "12.3s"),
        (59.96, "60s"),
        (60, "1m0s"),
        (360, "6m0s"),
        (61.4, "1m1s"),
    ],
)
def test_durations_in_openai_form(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_rate_limit_headers() -> None:
    assert rate_limit_headers(STATUS) == {
        "x-ratelimit-limit-requests": "30",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "2s",
        "x-ratelimit-limit-tokens": "15000",
        "x-ratelimit-remaining-tokens": "14000",
        "x-ratelimit-reset-tokens": "4s",
    }
