"""AsyncSparkAI: the same behaviour as the sync client, over an async mock transport."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable
from typing import TypeVar

import httpx
import pytest

from sparkaistream import (
    APIConnectionError,
    AsyncSparkAI,
    AsyncStream,
    AuthenticationError,
    ChatCompletion,
    NotFoundError,
    RateLimitError,
    SparkAIError,
    StreamError,
)

from _support import (
    API_KEY,
    BASE_URL,
    RATE_HEADERS,
    REQUEST_ID,
    STREAM_URL,
    USER_HELLO,
    RecordingStream,
    Script,
    chat_events,
    completion_json,
    error_json,
    error_response,
    json_response,
    make_async_client,
    sse,
    stream_response,
)

T = TypeVar("T")


def run(awaitable: Awaitable[T]) -> T:
    async def main() -> T:
        return await awaitable

    return asyncio.run(main())


def test_missing_api_key() -> None:
    with pytest.raises(SparkAIError, match="SPARKAI_API_KEY"):
        AsyncSparkAI()


def test_buffered_chat() -> None:
    script = Script(json_response(completion_json(), headers=RATE_HEADERS))
    client, _ = make_async_client(script)

    async def go() -> ChatCompletion:
        async with client:
            return await client.chat.create(model="spark-1", messages=USER_HELLO, max_tokens=10)

    completion = run(go())
    request = script.requests[0]
    assert str(request.url) == BASE_URL + "/v1/chat"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert script.body() == {"model": "spark-1", "messages": USER_HELLO, "max_tokens": 10}
    assert completion.choices[0].message.content.startswith("Hello!")
    assert completion.usage is not None
    assert completion.usage.total_tokens == 30
    assert completion.request_id == REQUEST_ID
    assert completion.rate_limit is not None
    assert completion.rate_limit.limit_requests == 30


def test_async_handler_is_supported() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return json_response(completion_json("from an async handler"))

    client = AsyncSparkAI(
        api_key=API_KEY, http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler))
    )
    completion = run(client.chat.create(model="spark-1", messages=USER_HELLO))
    assert completion.choices[0].message.content == "from an async handler"


def test_streaming_goes_to_the_stream_url_and_yields_typed_chunks() -> None:
    body = RecordingStream(
        [b": ping\n\n", sse(*chat_events("Hel", "lo"))[:50], sse(*chat_events("Hel", "lo"))[50:]]
    )
    script = Script(stream_response(body, headers=RATE_HEADERS))
    client, _ = make_async_client(script)

    async def go() -> tuple[list[str], ChatCompletion]:
        stream = await client.chat.create(model="spark-1", messages=USER_HELLO, stream=True)
        assert isinstance(stream, AsyncStream)
        assert stream.request_id == REQUEST_ID
        texts = [text async for text in stream.text_deltas()]
        return texts, await stream.get_final_completion()

    texts, final = run(go())
    assert str(script.requests[0].url) == STREAM_URL + "/v1/chat"
    assert script.requests[0].headers["accept"] == "text/event-stream"
    assert script.body()["stream"] is True
    assert texts == ["Hel", "lo"]
    assert final.choices[0].message.content == "Hello"
    assert final.usage is not None
    assert body.closed


def test_mid_stream_error_event_raises_and_is_not_retried() -> None:
    error = error_json("Model timed out.", "server_error", "model_timeout")
    body = RecordingStream([sse(*chat_events("a")[:2], error, done=False)])
    script = Script(stream_response(body))
    client, sleeps = make_async_client(script, max_retries=4)

    async def go() -> list[str]:
        received: list[str] = []
        stream = await client.chat.create(model="spark-1", messages=USER_HELLO, stream=True)
        with pytest.raises(StreamError) as caught:
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")
        assert caught.value.code == "model_timeout"
        assert caught.value.request_id == REQUEST_ID
        return received

    assert run(go()) == ["", "a"]
    assert body.closed
    assert (script.calls, sleeps) == (1, [])


def test_eof_without_done_raises() -> None:
    script = Script(stream_response(sse(*chat_events("a"), done=False)))
    client, _ = make_async_client(script)

    async def go() -> None:
        stream = await client.chat.create(model="spark-1", messages=USER_HELLO, stream=True)
        with pytest.raises(StreamError, match="before \\[DONE\\]"):
            async for _ in stream:
                pass

    run(go())


def test_transport_failure_mid_stream() -> None:
    body = RecordingStream(
        [sse(*chat_events("a")[:1], done=False)], fail_with=httpx.ReadError("reset")
    )
    script = Script(stream_response(body))
    client, sleeps = make_async_client(script)

    async def go() -> None:
        stream = await client.chat.create(model="spark-1", messages=USER_HELLO, stream=True)
        with pytest.raises(APIConnectionError):
            async for _ in stream:
                pass

    run(go())
    assert (script.calls, sleeps, body.closed) == (1, [], True)


def test_aclose_and_async_with_close_the_connection() -> None:
    first = RecordingStream([sse(*chat_events("a", "b"))])
    second = RecordingStream([sse(*chat_events("a", "b"))])
    client, _ = make_async_client(Script(stream_response(first), stream_response(second)))

    async def go() -> None:
        stream = await client.chat.create(model="spark-1", messages=USER_HELLO, stream=True)
        await stream.__anext__()
        await stream.aclose()
        assert first.closed
        assert [chunk async for chunk in stream] == []
        async with await client.chat.create(
            model="spark-1", messages=USER_HELLO, stream=True
        ) as other:
            await other.__anext__()
            assert not second.closed
        assert second.closed

    run(go())


def test_garbage_collection_closes_the_connection_on_the_running_loop() -> None:
    body = RecordingStream([sse(*chat_events("a", "b"))])
    client, _ = make_async_client(Script(stream_response(body)))

    async def go() -> None:
        closed = asyncio.Event()
        body.on_close = closed.set
        stream = await client.chat.create(model="spark-1", messages=USER_HELLO, stream=True)
        await stream.__anext__()
        del stream
        gc.collect()
        # The close is scheduled on this loop: wait for it to happen (the bound only stops a hang;
        # without the scheduled close this fails, however many times the loop turns)
        await asyncio.wait_for(closed.wait(), timeout=10)
        assert body.closed

    run(go())


def test_retries_with_retry_after_and_connect_errors() -> None:
    script = Script(
        httpx.ConnectError("refused"),
        error_response(429, "rate_limit_exceeded", headers={"retry-after": "2"}),
        error_response(503, "model_unavailable", headers={"retry-after": "1"}),
        json_response(completion_json()),
    )
    client, sleeps = make_async_client(script, max_retries=3)
    run(client.chat.create(model="spark-1", messages=USER_HELLO))
    assert script.calls == 4
    assert sleeps[1:] == [2.0, 1.0]
    assert 0.0 <= sleeps[0] <= 0.5


def test_max_retries_and_no_retry_on_401() -> None:
    script = Script(
        *(
            error_response(429, "rate_limit_exceeded", headers={"retry-after": "1"})
            for _ in range(2)
        )
    )
    client, sleeps = make_async_client(script, max_retries=1)
    with pytest.raises(RateLimitError):
        run(client.chat.create(model="spark-1", messages=USER_HELLO))
    assert (script.calls, sleeps) == (2, [1.0])

    script = Script(error_response(401, "invalid_api_key", message="Invalid API key."))
    client, sleeps = make_async_client(script)
    with pytest.raises(AuthenticationError) as caught:
        run(client.chat.create(model="spark-1", messages=USER_HELLO))
    assert (caught.value.status_code, caught.value.message) == (401, "Invalid API key.")
    assert (script.calls, sleeps) == (1, [])


def test_models() -> None:
    card = {
        "id": "spark-turbo",
        "object": "model",
        "created": 1,
        "owned_by": "sparkai",
        "max_tokens": 4096,
    }
    script = Script(
        json_response({"object": "list", "data": [card]}),
        json_response(card),
        error_response(404, "model_not_found"),
    )
    client, _ = make_async_client(script)

    async def go() -> None:
        models = await client.models.list()
        assert [m.id for m in models] == ["spark-turbo"]
        assert (await client.models.retrieve("spark-turbo")).max_tokens == 4096
        with pytest.raises(NotFoundError):
            await client.models.retrieve("nope")
        await client.aclose()

    run(go())
    assert [str(r.url) for r in script.requests] == [
        BASE_URL + "/v1/models",
        BASE_URL + "/v1/models/spark-turbo",
        BASE_URL + "/v1/models/nope",
    ]
