"""The one place that turns domain errors into HTTP: status, error body, and headers."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from sparkai.api.headers import rate_limit_headers
from sparkai.errors import (
    ActiveKeyLimitError,
    AuthUnavailableError,
    DashboardKeyNotFoundError,
    DashboardRateLimitExceededError,
    EmailNotVerifiedError,
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    IdempotencyUnavailableError,
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
    SpendLimitExceededError,
    StreamDeadlineExceededError,
    TrialCreditExhaustedError,
)

# status, error type, error code (None: the error's own code, if it has one)
_HTTP: dict[type[SparkAIError], tuple[int, str, str | None]] = {
    InvalidRequestError: (400, "invalid_request_error", None),
    InvalidApiKeyError: (401, "invalid_request_error", "invalid_api_key"),
    InvalidSessionError: (401, "invalid_request_error", "invalid_session"),
    EmailNotVerifiedError: (403, "invalid_request_error", "email_not_verified"),
    DashboardKeyNotFoundError: (404, "invalid_request_error", "key_not_found"),
    RouteNotFoundError: (404, "invalid_request_error", "not_found"),
    ModelNotFoundError: (404, "invalid_request_error", "model_not_found"),
    MethodNotAllowedError: (405, "invalid_request_error", "method_not_allowed"),
    RequestTooLargeError: (413, "invalid_request_error", "request_too_large"),
    IdempotencyKeyInUseError: (409, "invalid_request_error", "idempotency_key_in_use"),
    # The account's state refuses it (not the request): revoking a key makes room.
    ActiveKeyLimitError: (409, "invalid_request_error", "active_key_limit_reached"),
    IdempotencyKeyReusedError: (422, "invalid_request_error", "idempotency_key_reused"),
    RateLimitExceededError: (429, "rate_limit_error", "rate_limit_exceeded"),
    # The dashboard's own per-user budget: requests only, as OpenAI words a request limit.
    DashboardRateLimitExceededError: (429, "requests", "rate_limit_exceeded"),
    # No retry-after: retrying cannot help until the month or the limit changes (OpenAI's code).
    SpendLimitExceededError: (429, "insufficient_quota", "insufficient_quota"),
    # The trial's one-off credit is used up: no month refills it, so no retry-after either.
    TrialCreditExhaustedError: (429, "insufficient_quota", "insufficient_quota"),
    ModelEndpointError: (502, "server_error", "model_error"),
    AuthUnavailableError: (503, "server_error", "auth_unavailable"),
    LimiterUnavailableError: (503, "server_error", "rate_limiter_unavailable"),
    IdempotencyUnavailableError: (503, "server_error", "idempotency_unavailable"),
    ModelUnavailableError: (503, "server_error", "model_unavailable"),
    ModelTimeoutError: (504, "server_error", "model_timeout"),
    # Only ever sent inside a stream (an error event), never as a status.
    StreamDeadlineExceededError: (504, "server_error", "stream_deadline_exceeded"),
}
INTERNAL = (500, "server_error", "internal_error")
INTERNAL_MESSAGE = "The server had an error while processing your request. Please retry."


def _lookup(exc: SparkAIError) -> tuple[int, str, str | None]:
    for cls in type(exc).__mro__:
        if cls in _HTTP:
            status, kind, code = _HTTP[cls]
            return status, kind, code or getattr(exc, "code", None)
    return INTERNAL


def error_body(
    message: str, kind: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def body_for(exc: SparkAIError) -> dict[str, Any]:
    _, kind, code = _lookup(exc)
    # Rate-limit errors name the spent budget in `type`, as OpenAI does ("requests" / "tokens").
    if isinstance(exc, RateLimitExceededError):
        kind = exc.limit
    return error_body(exc.message, kind, exc.param, code)


def status_for(exc: SparkAIError) -> int:
    return _lookup(exc)[0]


def headers_for(exc: SparkAIError) -> dict[str, str]:
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    if isinstance(exc, RateLimitExceededError):
        headers.update(rate_limit_headers(exc.status))
    if isinstance(exc, InvalidApiKeyError):
        headers["www-authenticate"] = 'Bearer realm="sparkai"'
    if isinstance(exc, InvalidSessionError):
        headers["www-authenticate"] = 'Bearer realm="sparkai-dashboard", error="invalid_token"'
    return headers


def error_response(exc: SparkAIError) -> JSONResponse:
    return JSONResponse(body_for(exc), status_code=status_for(exc), headers=headers_for(exc))


def internal_error_response() -> JSONResponse:
    status, kind, code = INTERNAL
    return JSONResponse(error_body(INTERNAL_MESSAGE, kind, None, code), status_code=status)
