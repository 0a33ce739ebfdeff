"""Typed exceptions: one class per HTTP error family, plus connection and mid-stream errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ._retry import parse_retry_after

if TYPE_CHECKING:
    from ._types import ChatCompletion

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "LengthFinishReasonError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "SparkAIError",
    "StreamError",
    "UnprocessableEntityError",
]

# API Gateway answers some errors itself (e.g. 403 "Forbidden"); it names the request differently.
_REQUEST_ID_HEADERS = ("x-request-id", "x-amzn-requestid", "apigw-requestid", "x-amz-apigw-id")


REDACTED = "[REDACTED]"
_SECRET_HEADERS = ("authorization", "proxy-authorization", "x-api-key")


def redact_request(request: httpx.Request | None) -> httpx.Request | None:
    """Blank the credentials of a request in place, so that an error holding it (and anything
    that logs, prints or pickles that error, or its httpx cause) cannot reveal the API key."""
    if request is not None:
        for name in _SECRET_HEADERS:
            if name in request.headers:
                request.headers[name] = REDACTED
    return request


class SparkAIError(Exception):
    """Base class of every error raised by this SDK."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIConnectionError(SparkAIError):
    """The API could not be reached, or the connection broke."""

    def __init__(
        self, message: str = "Connection error.", *, request: httpx.Request | None = None
    ) -> None:
        super().__init__(message)
        self.request = redact_request(request)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class APITimeoutError(APIConnectionError):
    """The request (or the wait for the next streamed event) timed out."""

    def __init__(
        self, message: str = "Request timed out.", *, request: httpx.Request | None = None
    ) -> None:
        super().__init__(message, request=request)


class APIResponseValidationError(SparkAIError):
    """A successful answer whose body is not the JSON this SDK expects."""

    def __init__(self, message: str, *, status_code: int, request_id: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id


class APIStatusError(SparkAIError):
    """The API answered with an error status (4xx/5xx) and the documented error body."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.type = type
        self.code = code
        self.param = param
        self.request_id = request_id
        self.headers: httpx.Headers = httpx.Headers(headers or {})
        self.body = body

    @property
    def retry_after(self) -> float | None:
        """Seconds from the `retry-after` header (429 and 503 send it), or None."""
        return parse_retry_after(self.headers.get("retry-after"))

    def __str__(self) -> str:
        details = [f"status {self.status_code}"]
        if self.code:
            details.append(f"code {self.code}")
        if self.param:
            details.append(f"param {self.param}")
        if self.request_id:
            details.append(f"request_id {self.request_id}")
        return f"{self.message} ({', '.join(details)})"


class BadRequestError(APIStatusError):
    """400: an invalid parameter (see .param and .code)."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, invalid, revoked or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this resource."""


class NotFoundError(APIStatusError):
    """404: unknown route or model."""


class ConflictError(APIStatusError):
    """409: a request with the same Idempotency-Key is still running (code idempotency_key_in_use;
    retried, honouring retry-after)."""


class RequestTooLargeError(APIStatusError):
    """413: the request body is too large."""


class UnprocessableEntityError(APIStatusError):
    """422: the Idempotency-Key was already used with a different request (idempotency_key_reused)."""


class RateLimitError(APIStatusError):
    """429: the request or token budget is spent; .type is "requests" or "tokens"."""


class InternalServerError(APIStatusError):
    """500 and above: server, model or dependency failure (often transient)."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


class LengthFinishReasonError(SparkAIError):
    """parse() got an answer cut by max_tokens (finish_reason "length"): it cannot be parsed."""

    def __init__(self, completion: ChatCompletion) -> None:
        usage = completion.usage
        super().__init__(
            "The answer was cut by the token limit (finish_reason 'length') before it was "
            f"complete, so it cannot be parsed; raise max_tokens (usage: {usage})."
        )
        self.completion = completion


class StreamError(SparkAIError):
    """The stream failed after it started: an error event arrived, or it ended before [DONE]."""

    def __init__(
        self,
        message: str,
        *,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.type = type
        self.code = code
        self.param = param
        self.request_id = request_id
        self.body = body

    def __str__(self) -> str:
        details = [f"code {self.code}"] if self.code else []
        if self.request_id:
            details.append(f"request_id {self.request_id}")
        return f"{self.message} ({', '.join(details)})" if details else self.message


def request_id_of(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def _error_fields(body: Any) -> dict[str, Any]:
    """The documented {"error": {...}} object, or {} for any other body."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            return dict(error)
        if isinstance(error, str):
            return {"message": error}
        if isinstance(body.get("message"), str):  # API Gateway's own {"message": "Forbidden"}
            return {"message": body["message"]}
    return {}


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def status_error_from_response(response: httpx.Response) -> APIStatusError:
    """Build the typed error for an error response whose body has already been read."""
    try:
        body: Any = json.loads(response.content) if response.content else None
    except ValueError:
        body = response.text or None
    fields = _error_fields(body)
    status = response.status_code
    message = _optional_str(fields.get("message")) or (
        body.strip()[:500]
        if isinstance(body, str) and body.strip()
        else f"HTTP {status} {response.reason_phrase}".strip()
    )
    cls = _BY_STATUS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    return cls(
        message,
        status_code=status,
        type=_optional_str(fields.get("type")),
        code=_optional_str(fields.get("code")),
        param=_optional_str(fields.get("param")),
        request_id=request_id_of(response.headers),
        headers=response.headers,
        body=body,
    )


def stream_error_from_event(data: Mapping[str, Any], request_id: str | None) -> StreamError:
    fields = _error_fields(data)
    return StreamError(
        _optional_str(fields.get("message")) or "The stream failed.",
        type=_optional_str(fields.get("type")),
        code=_optional_str(fields.get("code")),
        param=_optional_str(fields.get("param")),
        request_id=request_id,
        body=dict(data),
    )
