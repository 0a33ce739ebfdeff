"""Test helpers: canned API answers, SSE bodies, byte streams that record their fate, and a
scripted mock transport that records every request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Callable, Union

import httpx

from sparkaistream import AsyncSparkAI, SparkAI

API_KEY = "sk-spark-test123"
BASE_URL = "https://abc.execute-api.us-east-1.amazonaws.com/live"
STREAM_URL = "https://xyz.lambda-url.us-east-1.on.aws"
REQUEST_ID = "req_0123456789abcdef"

RATE_HEADERS = {
    "x-ratelimit-limit-requests": "30",
    "x-ratelimit-remaining-requests": "29",
    "x-ratelimit-reset-requests": "2s",
    "x-ratelimit-limit-tokens": "15000",
    "x-ratelimit-remaining-tokens": "14970",
    "x-ratelimit-reset-tokens": "120ms",
}


def completion_json(
    content: str = "Hello! I'm doing great. How can I help you today?",
) -> dict[str, Any]:
    return {
        "id": "chat-abc123",
        "object": "chat.completion",
        "created": 1234567890,
        "model": "spark-1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 18, "total_tokens": 30},
    }


def chunk_json(
    delta: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chat-abc123",
        "object": "chat.completion.chunk",
        "created": 1234567890,
        "model": "spark-1",
        "choices": []
        if usage is not None
        else [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def chat_events(*pieces: str) -> list[dict[str, Any]]:
    """The documented event sequence for an answer made of `pieces`, without [DONE]."""
    return [
        chunk_json({"role": "assistant", "content": ""}),
        *(chunk_json({"content": piece}) for piece in pieces),
        chunk_json({}, finish_reason="stop"),
        chunk_json(
            usage={
                "prompt_tokens": 9,
                "completion_tokens": len(pieces),
                "total_tokens": 9 + len(pieces),
            }
        ),
    ]


def sse(*events: dict[str, Any] | str, done: bool = True, newline: str = "\n") -> bytes:
    """`data: ...` events (dicts as JSON, strings verbatim) and, by default, [DONE]."""
    lines = [
        f"data: {e if isinstance(e, str) else json.dumps(e)}{newline}{newline}" for e in events
    ]
    if done:
        lines.append(f"data: [DONE]{newline}{newline}")
    return "".join(lines).encode()


def error_json(
    message: str, type_: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def error_response(
    status: int,
    code: str | None = None,
    *,
    type_: str = "invalid_request_error",
    message: str = "Something went wrong.",
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return httpx.Response(
        status,
        json=error_json(message, type_, code, param),
        headers={"x-request-id": REQUEST_ID, **(headers or {})},
    )


class RecordingStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body delivered in the given pieces; optionally fails after them. Records how
    many pieces were read and whether it was closed."""

    def __init__(self, pieces: Sequence[bytes], *, fail_with: Exception | None = None) -> None:
        self.pieces = list(pieces)
        self.fail_with = fail_with
        self.read = 0
        self.closed = False
        self.on_close: Callable[[], None] | None = None  # e.g. an asyncio.Event's set, to await

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            self.read += 1
            yield piece
        if self.fail_with is not None:
            raise self.fail_with

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            self.read += 1
            yield piece
        if self.fail_with is not None:
            raise self.fail_with

    def close(self) -> None:
        self.closed = True
        if self.on_close is not None:
            self.on_close()

    async def aclose(self) -> None:
        self.close()


def stream_response(
    body: bytes | Sequence[bytes] | RecordingStream, headers: dict[str, str] | None = None
) -> httpx.Response:
    stream = (
        body
        if isinstance(body, RecordingStream)
        else RecordingStream([body] if isinstance(body, bytes) else body)
    )
    return httpx.Response(
        200,
        headers={
            "content-type": "text/event-stream",
            "x-request-id": REQUEST_ID,
            **(headers or {}),
        },
        stream=stream,
    )


def json_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, json=body, headers={"x-request-id": REQUEST_ID, **(headers or {})})


Step = Union[httpx.Response, Exception, Callable[[httpx.Request], httpx.Response]]


class Script:
    """A mock server that answers each request with the next step (a response, an exception to
    raise, or a function of the request) and records the requests."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if not self.steps:
            raise AssertionError(f"unexpected request: {request.method} {request.url}")
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    @property
    def calls(self) -> int:
        return len(self.requests)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


class Sleeps(list):  # type: ignore[type-arg]
    """A sleep function that records the durations instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class AsyncSleeps(list):  # type: ignore[type-arg]
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(script: Script, **kwargs: Any) -> tuple[SparkAI, Sleeps]:
    sleeps = Sleeps()
    options: dict[str, Any] = {"api_key": API_KEY, "base_url": BASE_URL, "stream_url": STREAM_URL}
    options.update(kwargs)
    client = SparkAI(
        http_client=httpx.Client(transport=httpx.MockTransport(script)), sleep=sleeps, **options
    )
    return client, sleeps


def make_async_client(script: Script, **kwargs: Any) -> tuple[AsyncSparkAI, AsyncSleeps]:
    sleeps = AsyncSleeps()
    options: dict[str, Any] = {"api_key": API_KEY, "base_url": BASE_URL, "stream_url": STREAM_URL}
    options.update(kwargs)
    transport = httpx.MockTransport(script)
    client = AsyncSparkAI(
        http_client=httpx.AsyncClient(transport=transport), sleep=sleeps, **options
    )
    return client, sleeps


USER_HELLO = [{"role": "user", "content": "Hello!"}]
