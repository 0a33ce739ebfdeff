"""Server-sent events: an incremental decoder, and the Stream / AsyncStream iterators of chunks."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Callable, Generic, TypeVar

import httpx

from ._errors import (
    APIConnectionError,
    APITimeoutError,
    SparkAIError,
    StreamError,
    request_id_of,
    stream_error_from_event,
)
from ._tool_calls import ToolCallAccumulator
from ._types import ChatCompletion, ChatCompletionChunk, ChatMessage, Choice, RateLimitInfo, Usage

__all__ = ["AsyncStream", "SSEDecoder", "ServerSentEvent", "Stream"]

_T = TypeVar("_T")
_LINE_END = re.compile(r"\r\n|\r|\n")
DONE = "[DONE]"


@dataclass
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental text/event-stream parser (WHATWG rules): bytes in, complete events out.

    Handles events and UTF-8 characters split across chunks, CR / LF / CRLF line ends, comment
    (keep-alive) lines, multi-line data and a leading BOM."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        return self._consume(self._utf8.decode(chunk), final=False)

    def flush(self) -> list[ServerSentEvent]:
        """End of input: the last line and a last event even without their terminators."""
        events = self._consume(self._utf8.decode(b"", final=True), final=True)
        if self._buffer:
            events.extend(self._line(self._buffer))
            self._buffer = ""
        events.extend(self._line(""))
        return events

    def _consume(self, text: str, *, final: bool) -> list[ServerSentEvent]:
        if not self._started and text:
            self._started = True  # the first character decoded: a BOM only if it is U+FEFF
            text = text.removeprefix("\ufeff")
        buffer = self._buffer + text
        events: list[ServerSentEvent] = []
        position = 0
        for match in _LINE_END.finditer(buffer):
            # A CR at the very end may be the first half of a CRLF split across chunks.
            if match.group() == "\r" and match.end() == len(buffer) and not final:
                break
            events.extend(self._line(buffer[position : match.start()]))
            position = match.end()
        self._buffer = buffer[position:]
        return events

    def _line(self, line: str) -> list[ServerSentEvent]:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return []  # comment: keep-alive
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return []

    def _dispatch(self) -> list[ServerSentEvent]:
        if not self._data:
            self._event = ""
            return []
        event = ServerSentEvent(
            data="\n".join(self._data),
            event=self._event or "message",
            id=self._last_id,
            retry=self._retry,
        )
        self._data, self._event = [], ""
        return [event]


class _ChunkReader(Generic[_T]):
    """Turns events into items: skips empty events, stops at [DONE], raises on error events and
    on an end of input before [DONE]. Also accumulates the answer for get_final_completion()."""

    def __init__(self, parse: Callable[[Mapping[str, Any]], _T], request_id: str | None) -> None:
        self._parse = parse
        self._request_id = request_id
        self._decoder = SSEDecoder()
        self._events: deque[ServerSentEvent] = deque()
        self._eof = False
        self.done = False
        self.accumulated = _Accumulator()

    def feed(self, data: bytes) -> None:
        self._events.extend(self._decoder.feed(data))

    def finish(self) -> None:
        self._events.extend(self._decoder.flush())
        self._eof = True

    def next_item(self) -> _T | None:
        """The next item, or None if more input is needed (or the stream is done)."""
        while self._events and not self.done:
            item = self._handle(self._events.popleft())
            if item is not None:
                return item
        if self._eof and not self.done:
            raise StreamError(
                "The stream ended before [DONE]: the connection was cut or the server timed out.",
                code="stream_incomplete",
                request_id=self._request_id,
            )
        return None

    def _handle(self, event: ServerSentEvent) -> _T | None:
        data = event.data.strip()
        if data == DONE:
            self.done = True
            self._events.clear()
            return None
        if not data:
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            payload = None
        if not isinstance(payload, Mapping):
            if self._eof and not self._events:  # a half-received last event
                raise StreamError(
                    "The stream ended in the middle of an event, before [DONE].",
                    code="stream_incomplete",
                    request_id=self._request_id,
                )
            raise StreamError(
                f"The stream sent an event that is not a JSON object: {data[:200]!r}",
                code="invalid_event",
                request_id=self._request_id,
            )
        if event.event == "error" or ("error" in payload and "choices" not in payload):
            raise stream_error_from_event(payload, self._request_id)
        item = self._parse(payload)
        if isinstance(item, ChatCompletionChunk):
            self.accumulated.add(item)
        return item


class _Accumulator:
    """The pieces of a streamed answer, to rebuild it as one ChatCompletion (the same shape as
    the buffered answer: tool calls assembled, and content None when they came without text)."""

    def __init__(self) -> None:
        self.first: ChatCompletionChunk | None = None
        self.role = "assistant"
        self.parts: list[str] = []
        self.tools = ToolCallAccumulator()
        self.finish_reason: str | None = None
        self.usage: Usage | None = None

    def add(self, chunk: ChatCompletionChunk) -> None:
        if self.first is None:
            self.first = chunk
        self.tools.add(chunk)
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            if choice.delta.role:
                self.role = choice.delta.role
            if choice.delta.content:
                self.parts.append(choice.delta.content)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage

    def completion(
        self, request_id: str | None, rate_limit: RateLimitInfo | None
    ) -> ChatCompletion:
        first = self.first
        text, calls = "".join(self.parts), self.tools.tool_calls
        message = ChatMessage(
            self.role, None if calls and not text else text, tool_calls=calls or None
        )
        return ChatCompletion(
            id=first.id if first else "",
            created=first.created if first else 0,
            model=first.model if first else "",
            choices=[Choice(0, message, self.finish_reason)],
            usage=self.usage,
            request_id=request_id,
            rate_limit=rate_limit,
        )


def _transport_error(exc: Exception) -> SparkAIError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError("Timed out waiting for the next streamed event.")
    return APIConnectionError(f"The connection broke while streaming: {exc!r}")


class Stream(Generic[_T]):
    """Iterator over streamed chunks. Iteration ends at [DONE]; close() (or `with`, or garbage
    collection) closes the HTTP connection. Never retried once it has started."""

    def __init__(self, response: httpx.Response, parse: Callable[[Mapping[str, Any]], _T]) -> None:
        self.response = response
        self.request_id = request_id_of(response.headers)
        self.rate_limit = RateLimitInfo.from_headers(response.headers)
        self._reader = _ChunkReader(parse, self.request_id)
        self._raw: Iterator[bytes] | None = None
        self._closed = False

    def __iter__(self) -> Iterator[_T]:
        return self

    def __next__(self) -> _T:
        try:
            while not self._closed:
                item = self._reader.next_item()
                if item is not None:
                    return item
                if self._reader.done:
                    break
                self._read_more()
        except BaseException:
            self.close()
            raise
        self.close()
        raise StopIteration

    def _read_more(self) -> None:
        if self._raw is None:
            self._raw = self.response.iter_bytes()
        try:
            data = next(self._raw)
        except StopIteration:
            self._reader.finish()
        except (httpx.HTTPError, httpx.StreamError) as exc:
            raise _transport_error(exc) from exc
        else:
            self._reader.feed(data)

    def text_deltas(self: Stream[ChatCompletionChunk]) -> Iterator[str]:
        """Just the text, piece by piece, as it arrives."""
        for chunk in self:
            for choice in chunk.choices:
                if choice.index == 0 and choice.delta.content:
                    yield choice.delta.content

    def get_final_completion(self: Stream[ChatCompletionChunk]) -> ChatCompletion:
        """Read to the end and return the whole answer (text, finish_reason, usage)."""
        for _ in self:
            pass
        return self._reader.accumulated.completion(self.request_id, self.rate_limit)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        raw, self._raw = self._raw, None
        try:
            if raw is not None and hasattr(raw, "close"):
                raw.close()
        finally:
            self.response.close()

    def __enter__(self) -> Stream[_T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            with contextlib.suppress(Exception):  # nothing sensible to do during collection
                self.close()


_CLOSING: set[asyncio.Task[None]] = set()


class AsyncStream(Generic[_T]):
    """Async iterator over streamed chunks; `async with` or aclose() closes the connection."""

    def __init__(self, response: httpx.Response, parse: Callable[[Mapping[str, Any]], _T]) -> None:
        self.response = response
        self.request_id = request_id_of(response.headers)
        self.rate_limit = RateLimitInfo.from_headers(response.headers)
        self._reader = _ChunkReader(parse, self.request_id)
        self._raw: AsyncIterator[bytes] | None = None
        self._closed = False

    def __aiter__(self) -> AsyncIterator[_T]:
        return self

    async def __anext__(self) -> _T:
        try:
            while not self._closed:
                item = self._reader.next_item()
                if item is not None:
                    return item
                if self._reader.done:
                    break
                await self._read_more()
        except BaseException:
            await self.aclose()
            raise
        await self.aclose()
        raise StopAsyncIteration

    async def _read_more(self) -> None:
        if self._raw is None:
            self._raw = self.response.aiter_bytes()
        try:
            data = await self._raw.__anext__()
        except StopAsyncIteration:
            self._reader.finish()
        except (httpx.HTTPError, httpx.StreamError) as exc:
            raise _transport_error(exc) from exc
        else:
            self._reader.feed(data)

    async def text_deltas(self: AsyncStream[ChatCompletionChunk]) -> AsyncIterator[str]:
        """Just the text, piece by piece, as it arrives."""
        async for chunk in self:
            for choice in chunk.choices:
                if choice.index == 0 and choice.delta.content:
                    yield choice.delta.content

    async def get_final_completion(self: AsyncStream[ChatCompletionChunk]) -> ChatCompletion:
        """Read to the end and return the whole answer (text, finish_reason, usage)."""
        async for _ in self:
            pass
        return self._reader.accumulated.completion(self.request_id, self.rate_limit)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        raw, self._raw = self._raw, None
        try:
            close = getattr(raw, "aclose", None)
            if close is not None:
                await close()
        finally:
            await self.response.aclose()

    async def __aenter__(self) -> AsyncStream[_T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        """Best effort: an abandoned stream is closed on the running asyncio loop, if any."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self.response.aclose())
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)
