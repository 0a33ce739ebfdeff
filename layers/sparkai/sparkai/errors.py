"""Domain errors. They say what went wrong; `sparkai.api.errors` alone decides the HTTP status."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: the authorizer imports this module, and nothing more for it
    from decimal import Decimal

    from sparkai.limits.port import RateLimitStatus


class SparkAIError(Exception):
    """Base class for every error a client may be told about."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class InvalidRequestError(SparkAIError):
    """The request body or one of its parameters is invalid."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message, param=param)
        self.code = code


class UnknownModelError(InvalidRequestError):
    """The request names a model that does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param="model", code="model_not_found")


class ContextLengthExceededError(InvalidRequestError):
    """The model refused the prompt: prompt plus max_tokens exceed its context window."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param="messages", code="context_length_exceeded")


class RequestTooLargeError(SparkAIError):
    """The request body is larger than the service accepts."""


class InvalidApiKeyError(SparkAIError):
    """The API key is missing, malformed, unknown, revoked or expired."""


class AuthUnavailableError(SparkAIError):
    """The key store could not be read, so no key can be accepted."""

    retry_after = 1  # every 503 says when to retry (README); the key store is usually back fast


class InvalidSessionError(SparkAIError):
    """A dashboard call without a valid Cognito ID token (missing, forged, expired, wrong pool)."""


class DashboardKeyNotFoundError(SparkAIError):
    """A dashboard call names a key the signed-in account does not own (or that does not exist)."""


class RouteNotFoundError(SparkAIError):
    """No resource exists at the requested path."""


class MethodNotAllowedError(SparkAIError):
    """The resource exists but not for this HTTP method."""


class ModelNotFoundError(SparkAIError):
    """A model looked up by id (GET /v1/models/{id}) does not exist."""


class RateLimitExceededError(SparkAIError):
    """The account's requests-per-minute or tokens-per-minute budget is spent."""

    def __init__(
        self, message: str, *, limit: str, retry_after: int, status: RateLimitStatus
    ) -> None:
        super().__init__(message)
        self.limit = limit  # "requests" or "tokens"
        self.retry_after = retry_after
        self.status = status  # headers for the 429


class SpendLimitExceededError(SparkAIError):
    """The account's monthly spend limit would be exceeded by this request (no retry helps)."""

    def __init__(self, message: str, *, limit_usd: Decimal, month_to_date_usd: Decimal) -> None:
        super().__init__(message)
        self.limit_usd = limit_usd
        self.month_to_date_usd = month_to_date_usd


class TrialCreditExhaustedError(SparkAIError):
    """A trial account's one-off credit would be exceeded by this request (no month refills it)."""

    def __init__(self, message: str, *, credit_usd: Decimal, used_usd: Decimal) -> None:
        super().__init__(message)
        self.credit_usd = credit_usd
        self.used_usd = used_usd


class DashboardRateLimitExceededError(SparkAIError):
    """One dashboard user sent more requests per minute than the dashboard serves a user."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EmailNotVerifiedError(SparkAIError):
    """A dashboard user asked for an API key before verifying their e-mail address."""


class ActiveKeyLimitError(SparkAIError):
    """The account already has as many active keys as an account may have."""


class StreamDeadlineExceededError(SparkAIError):
    """A stream reached the function's own deadline; it ends here, settled with what was sent."""


class LimiterUnavailableError(SparkAIError):
    """The rate-limit table could not be reached, so the request is refused (fails closed)."""

    retry_after = 1


class ModelEndpointError(SparkAIError):
    """The model endpoint failed while producing an answer."""


class ModelUnavailableError(SparkAIError):
    """The model endpoint is throttled, not ready or unreachable; retrying later may work."""

    def __init__(self, message: str, *, retry_after: int = 2) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelTimeoutError(SparkAIError):
    """The model endpoint did not answer in time."""


class IdempotencyKeyInUseError(SparkAIError):
    """Another request with this Idempotency-Key is still running (or its stream is)."""

    retry_after = 1


class IdempotencyKeyReusedError(SparkAIError):
    """This Idempotency-Key was already used with a different request body."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param="Idempotency-Key")


class IdempotencyUnavailableError(SparkAIError):
    """The idempotency record could not be read or written, so the request is not run."""

    retry_after = 1


class ConfigurationError(Exception):
    """The service is misconfigured (a missing setting); an operator must fix it."""
