"""Stream: typed chunks, SSE edge cases end to end, errors mid-stream, and closing."""

from __future__ import annotations

import gc
import json

import httpx
import pytest

from sparkaistream import (
    APIConnectionError,
    APITimeoutError,
    ChatCompletionChunk,
    SparkAI,
    Stream,
    StreamError,
)

from _support import (
    RATE_HEADERS,
    REQUEST_ID,
    USER_HELLO,
    RecordingStream,
    Script,
    chat_events,
    chunk_json,
    error_json,
    make_client,
    sse,
    stream_response,
)


def open_stream(
    body: RecordingStream, **kwargs: object
) -> tuple[Stream[ChatCompletionChunk], Script]:
    script = Script(stream_response(body, headers=RATE_HEADERS))
    client, _ = make_client(script, **kwargs)  # type: ignore[arg-type]
    return client.chat.create(model="spark-1", messages=USER_HELLO, stream=True), script


def test_chunks_are_typed_and_end_at_done() -> None:
    body = RecordingStream([sse(*chat_events("Hel", "lo!"))])
    stream, _ = open_stream(body)
    chunks = list(stream)
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert [c.object for c in chunks] == ["chat.completion.chunk"] * 5
    assert {c.id for c in chunks} == {"chat-abc123"}
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    assert [c.choices[0].delta.content for c in chunks[1:3]] == ["Hel", "lo!"]
    assert chunks[3].choices[0].finish_reason == "stop"
    assert chunks[3].choices[0].delta.content is None
    assert chunks[4].choices == []
    assert chunks[4].usage is not None
    assert chunks[4].usage.total_tokens == 11
    assert stream.request_id == REQUEST_ID
    assert stream.rate_limit is not None
    assert stream.rate_limit.limit_tokens == 15000
    assert body.closed


def test_text_deltas_and_final_completion() -> None:
    stream, _ = open_stream(RecordingStream([sse(*chat_events("Hel", "lo", "!"))]))
    assert list(stream.text_deltas()) == ["Hel", "lo", "!"]
    final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello!"
    assert final.choices[0].message.role == "assistant"
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None
    assert final.usage.completion_tokens == 3
    assert (final.id, final.model, final.created) == ("chat-abc123", "spark-1", 1234567890)
    assert final.request_id == REQUEST_ID


def test_final_completion_counts_chunks_already_consumed() -> None:
    stream, _ = open_stream(RecordingStream([sse(*chat_events("a", "b", "c"))]))
    next(stream)
    next(stream)
    assert stream.get_final_completion().choices[0].message.content == "abc"


def test_keep_alives_crlf_split_events_and_multi_line_data() -> None:
    events = chat_events("Hi", " there")
    raw = (
        b": ping - 2025-01-01 00:00:00.000000\r\n\r\n"
        + sse(*events[:2], newline="\r\n", done=False)
        + b":\n\n"
        # one JSON object spread over several data lines: joined with "\n", still valid JSON
        + ("data: " + json.dumps(events[2]).replace(", ", ",\ndata: ") + "\n\n").encode()
        + sse(*events[3:], done=True)
    )
    pieces = [raw[i : i + 7] for i in range(0, len(raw), 7)]
    stream, _ = open_stream(RecordingStream(pieces))
    assert list(stream.text_deltas()) == ["Hi", " there"]


def test_done_stops_reading_and_closes_the_connection() -> None:
    body = RecordingStream([sse(*chat_events("x")), b"data: never-read\n\n", b"more"])
    stream, _ = open_stream(body)
    assert len(list(stream)) == 4
    assert body.read == 1
    assert body.closed


def test_empty_data_events_are_skipped() -> None:
    raw = b"data:\n\n" + sse(*chat_events("x"))
    stream, _ = open_stream(RecordingStream([raw]))
    assert list(stream.text_deltas()) == ["x"]


def test_mid_stream_error_event_raises_stream_error() -> None:
    events = chat_events("partial")[:2]
    error = error_json("The model failed while generating.", "server_error", "model_error")
    body = RecordingStream([sse(*events, done=False), sse(error, done=False)])
    stream, script = open_stream(body, max_retries=5)
    received = []
    with pytest.raises(StreamError) as caught:
        for text in stream.text_deltas():
            received.append(text)
    assert received == ["partial"]
    assert caught.value.code == "model_error"
    assert caught.value.type == "server_error"
    assert caught.value.message == "The model failed while generating."
    assert caught.value.request_id == REQUEST_ID
    assert caught.value.body == error
    assert body.closed
    assert script.calls == 1  # never retried once the stream started
    assert list(stream) == []  # a failed stream stays finished


def test_error_event_with_event_name() -> None:
    raw = b'event: error\ndata: {"message": "boom", "code": "x"}\n\n'
    stream, _ = open_stream(RecordingStream([raw]))
    with pytest.raises(StreamError, match="boom"):
        list(stream)


def test_eof_without_done_raises_stream_error() -> None:
    body = RecordingStream([sse(*chat_events("cut"), done=False)])
    stream, _ = open_stream(body)
    received = []
    with pytest.raises(StreamError) as caught:
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 4  # every complete chunk was delivered first
    assert caught.value.code == "stream_incomplete"
    assert body.closed


def test_eof_in_the_middle_of_an_event_raises_stream_error() -> None:
    raw = sse(*chat_events("x")[:2], done=False) + b'data: {"id": "chat-abc'
    stream, _ = open_stream(RecordingStream([raw]))
    with pytest.raises(StreamError) as caught:
        list(stream)
    assert caught.value.code == "stream_incomplete"


def test_done_without_trailing_blank_line_at_eof_ends_cleanly() -> None:
    raw = sse(*chat_events("x"), done=False) + b"data: [DONE]"
    stream, _ = open_stream(RecordingStream([raw]))
    assert list(stream.text_deltas()) == ["x"]


def test_an_event_that_is_not_json_raises_stream_error() -> None:
    stream, _ = open_stream(RecordingStream([b"data: not json\n\n" + sse()]))
    with pytest.raises(StreamError) as caught:
        list(stream)
    assert caught.value.code == "invalid_event"


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ReadError("connection reset"), APIConnectionError),
        (httpx.RemoteProtocolError("peer closed connection"), APIConnectionError),
        (httpx.ReadTimeout("timed out"), APITimeoutError),
    ],
)
def test_transport_failure_mid_stream_is_raised_not_retried(
    failure: Exception, expected: type[Exception]
) -> None:
    body = RecordingStream([sse(*chat_events("a")[:2], done=False)], fail_with=failure)
    stream, script = open_stream(body, max_retries=3)
    assert next(stream).choices[0].delta.role == "assistant"
    with pytest.raises(expected):
        list(stream)
    assert script.calls == 1
    assert body.closed


def test_close_closes_the_connection() -> None:
    body = RecordingStream([sse(*chat_events("a")[:2], done=False), b"data: {}\n\n"])
    stream, _ = open_stream(body)
    next(stream)
    stream.close()
    assert body.closed
    assert list(stream) == []
    stream.close()  # idempotent


def test_context_manager_closes_the_connection_early() -> None:
    body = RecordingStream([sse(*chat_events("a", "b"))])
    stream, _ = open_stream(body)
    with stream:
        next(stream)
        assert not body.closed
    assert body.closed


def test_garbage_collection_closes_the_connection() -> None:
    body = RecordingStream([sse(*chat_events("a", "b"))])
    stream, _ = open_stream(body)
    next(stream)
    assert not body.closed
    del stream
    gc.collect()
    assert body.closed


def test_breaking_out_of_text_deltas_then_closing() -> None:
    body = RecordingStream([sse(*chat_events("a", "b"))])
    stream, _ = open_stream(body)
    with stream:
        for text in stream.text_deltas():
            assert text == "a"
            break
    assert body.closed


def test_buffered_url_answering_the_whole_sse_sequence_in_one_body() -> None:
    """Locally (or via API Gateway) both URLs are one: the same events arrive as one body."""
    script = Script(stream_response(sse(*chat_events("one ", "body"))))
    client = SparkAI(
        api_key="sk-spark-x",
        base_url="http://127.0.0.1:3000",
        http_client=httpx.Client(transport=httpx.MockTransport(script)),
    )
    stream = client.chat.create(model="spark-1", messages=USER_HELLO, stream=True)
    assert "".join(stream.text_deltas()) == "one body"
    assert str(script.requests[0].url) == "http://127.0.0.1:3000/v1/chat"


def test_chunk_without_usage_key() -> None:
    chunk = ChatCompletionChunk.from_dict(chunk_json({"content": "x"}))
    assert chunk.usage is None
    assert chunk.choices[0].delta.content == "x"
