"""SparkAI and AsyncSparkAI: configuration, one HTTP request with retries, and the resources."""

from __future__ import annotations

import logging
import os
from types import TracebackType
from typing import Union

import httpx

from . import _retry
from ._chat import AsyncChat, Chat
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    SparkAIError,
    redact_request,
    status_error_from_response,
)
from ._resources import AsyncModels, Models, RequestOptions
from ._usage import AsyncUsageResource, UsageResource
from ._version import __version__

__all__ = ["AsyncSparkAI", "SparkAI"]

logger = logging.getLogger("sparkaistream")

ENV_API_KEY = "SPARKAI_API_KEY"
ENV_BASE_URL = "SPARKAI_BASE_URL"
ENV_STREAM_URL = "SPARKAI_STREAM_URL"
DEFAULT_BASE_URL = "https://api.sparkaistream.com"
DEFAULT_TIMEOUT = 60.0
USER_AGENT = f"sparkaistream-python/{__version__}"

Timeout = Union[float, httpx.Timeout, None]


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _normalize_url(url: str, what: str) -> str:
    url = url.strip().rstrip("/")
    if httpx.URL(url).scheme not in ("http", "https"):
        raise ValueError(f"{what} must be an http(s) URL, got {url!r}.")
    return url


def _check_retries(max_retries: int) -> int:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be an int >= 0, got {max_retries!r}.")
    return max_retries


def _connection_error(exc: Exception, request: httpx.Request) -> APIConnectionError:
    redact_request(request)  # exc.request is this object too: no copy keeps the key
    if isinstance(exc, httpx.TimeoutException):
        error: APIConnectionError = APITimeoutError(f"Request timed out: {exc!r}", request=request)
    else:
        error = APIConnectionError(f"Connection error: {exc!r}", request=request)
    error.__cause__ = exc
    return error


def _should_retry(error: SparkAIError) -> bool:
    if isinstance(error, APIStatusError):
        return _retry.is_retryable_status(error.status_code, error.code)
    cause = error.__cause__
    return isinstance(cause, Exception) and _retry.is_retryable_exception(cause)


def _replay_safe(options: RequestOptions) -> bool:
    """A POST may have run (and been billed) before it failed: retry it only when it carries an
    Idempotency-Key, so the server can answer the retry from the first run."""
    if options.method != "POST":
        return True
    return any(
        name.lower() == _retry.IDEMPOTENCY_HEADER.lower() for name in options.extra_headers or {}
    )


def _retry_after(error: SparkAIError) -> float | None:
    return error.retry_after if isinstance(error, APIStatusError) else None


class _BaseClient:
    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        stream_url: str | None,
        timeout: Timeout,
        max_retries: int,
    ) -> None:
        key = api_key if api_key is not None else _env(ENV_API_KEY)
        if not key or not key.strip():
            raise SparkAIError(
                "No API key: pass SparkAI(api_key='sk-spark-...') or set the "
                f"{ENV_API_KEY} environment variable."
            )
        self.api_key = key.strip()
        self.base_url = _normalize_url(
            base_url or _env(ENV_BASE_URL) or DEFAULT_BASE_URL, "base_url"
        )
        if stream_url:
            self.stream_url = _normalize_url(stream_url, "stream_url")
        elif base_url:  # an explicit base_url serves streams too unless stream_url is given
            self.stream_url = self.base_url
        else:
            self.stream_url = _normalize_url(_env(ENV_STREAM_URL) or self.base_url, "stream_url")
        self.timeout = timeout
        self.max_retries = _check_retries(max_retries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, stream_url={self.stream_url!r})"

    def _build_request(
        self, http: httpx.Client | httpx.AsyncClient, options: RequestOptions
    ) -> httpx.Request:
        url = (self.stream_url if options.stream else self.base_url) + options.path
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "text/event-stream" if options.stream else "application/json",
            "User-Agent": USER_AGENT,
            **(options.extra_headers or {}),
        }
        timeout = self.timeout if options.timeout is None else options.timeout
        return http.build_request(
            options.method, url, json=options.json, headers=headers, timeout=timeout
        )

    def _retries(self, options: RequestOptions) -> int:
        return (
            self.max_retries if options.max_retries is None else _check_retries(options.max_retries)
        )

    def _delay_before_retry(
        self, options: RequestOptions, error: SparkAIError, attempt: int
    ) -> float:
        """How long to wait before retrying after `error`, or raise it if this is final."""
        retries = self._retries(options)
        if attempt >= retries or not _should_retry(error) or not _replay_safe(options):
            raise error
        delay = _retry.retry_delay(attempt, _retry_after(error))
        logger.info(
            "Retrying %s %s in %.2fs (retry %d of %d) after: %s",
            options.method,
            options.path,
            delay,
            attempt + 1,
            retries,
            error,
        )
        return delay


class SparkAI(_BaseClient):
    """Synchronous client. Reads SPARKAI_API_KEY / SPARKAI_BASE_URL / SPARKAI_STREAM_URL when
    the matching argument is not given. `sleep` is injectable (tests)."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        stream_url: str | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = _retry.DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
        *,
        sleep: _retry.Sleep | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            stream_url=stream_url,
            timeout=timeout,
            max_retries=max_retries,
        )
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout)
        self._sleep = sleep if sleep is not None else _retry.default_sleep
        self.chat = Chat(self)
        self.models = Models(self)
        self.usage = UsageResource(self)

    def _request(self, options: RequestOptions) -> httpx.Response:
        """Send with retries. A successful streaming answer comes back unread (the caller owns
        it); every other answer is read and closed. Error statuses raise typed errors."""
        attempt = 0
        while True:
            request = self._build_request(self._http, options)
            error: SparkAIError
            try:
                response = self._http.send(request, stream=True)
            except httpx.HTTPError as exc:
                error = _connection_error(exc, request)
            else:
                if options.stream and response.is_success:
                    return response
                try:
                    response.read()
                except httpx.HTTPError as exc:
                    response.close()
                    error = _connection_error(exc, request)
                else:
                    if response.is_success:
                        return response
                    error = status_error_from_response(response)
            self._sleep(self._delay_before_retry(options, error, attempt))
            attempt += 1

    def close(self) -> None:
        """Close the connection pool (not an http_client you passed in)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> SparkAI:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncSparkAI(_BaseClient):
    """Asynchronous client with the same surface as SparkAI (awaitables, async streams)."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        stream_url: str | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = _retry.DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
        *,
        sleep: _retry.AsyncSleep | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            stream_url=stream_url,
            timeout=timeout,
            max_retries=max_retries,
        )
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)
        self._sleep = sleep if sleep is not None else _retry.default_async_sleep
        self.chat = AsyncChat(self)
        self.models = AsyncModels(self)
        self.usage = AsyncUsageResource(self)

    async def _request(self, options: RequestOptions) -> httpx.Response:
        """Send with retries; see SparkAI._request."""
        attempt = 0
        while True:
            request = self._build_request(self._http, options)
            error: SparkAIError
            try:
                response = await self._http.send(request, stream=True)
            except httpx.HTTPError as exc:
                error = _connection_error(exc, request)
            else:
                if options.stream and response.is_success:
                    return response
                try:
                    await response.aread()
                except httpx.HTTPError as exc:
                    await response.aclose()
                    error = _connection_error(exc, request)
                else:
                    if response.is_success:
                        return response
                    error = status_error_from_response(response)
            await self._sleep(self._delay_before_retry(options, error, attempt))
            attempt += 1

    async def aclose(self) -> None:
        """Close the connection pool (not an http_client you passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncSparkAI:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
