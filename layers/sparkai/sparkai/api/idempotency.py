"""Idempotency-Key on the chat routes: the key, stored answers replayed, and the answer recorded
(or the claim given back) when the request ends. The claim itself is made by sparkai.api.admission,
at the same time as the reservation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sparkai.api.sse import EventSourceResponse
from sparkai.api.streaming import DONE, event_json
from sparkai.chat.schemas import ChatRequest, Usage, chunk
from sparkai.chat.service import ChatStream
from sparkai.errors import (
    InvalidRequestError,
)
from sparkai.idempotency.port import Claim, IdempotencyStore

HEADER = "idempotency-key"
REPLAYED = "idempotent-replayed"
MAX_KEY_LENGTH = 255


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key (1-255 printable ASCII characters), or None."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in value):
        raise InvalidRequestError(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            param="Idempotency-Key",
            code="invalid_idempotency_key",
        )
    return value


class Once:
    """The idempotency side of one admitted request; without a key every method does nothing."""

    def __init__(self, store: IdempotencyStore | None = None, claim: Claim | None = None) -> None:
        self._store = store
        self._claim = claim

    async def guard[T](self, call: Awaitable[T]) -> T:
        """Await the model call; if it fails, give the claim back so a retry runs it again."""
        try:
            return await call
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.abandon()
            raise

    async def abandon(self) -> None:
        if self._store is not None and self._claim is not None:
            await run_in_threadpool(self._store.abandon, self._claim)

    async def completed(self, answer: dict[str, Any]) -> None:
        if self._store is not None and self._claim is not None:
            await run_in_threadpool(self._store.complete, self._claim, answer)

    def recording(self, stream: ChatStream) -> ChatStream:
        if self._store is None or self._claim is None:
            return stream
        return _RecordingStream(stream, self._store, self._claim)  # type: ignore[return-value]


NO_KEY = Once()


def replay_response(answer: dict[str, Any], chat_request: ChatRequest, *, openai: bool) -> Response:
    """The stored answer again: the same JSON, or for a stream the same completion as one
    well-formed event stream (role, the whole text in one delta, finish, usage, [DONE])."""
    headers = {REPLAYED: "true"}
    if not chat_request.stream:
        return JSONResponse(answer, headers=headers)
    include_usage = not openai or bool(
        chat_request.stream_options and chat_request.stream_options.include_usage
    )
    return EventSourceResponse(
        _replayed_events(answer, include_usage),
        headers={"cache-control": "no-cache", **headers},
        sep="\n",
    )


async def _replayed_events(answer: dict[str, Any], include_usage: bool) -> Any:
    ident = (answer["id"], answer["created"], answer["model"])
    choice = answer["choices"][0]
    message = choice["message"]
    yield event_json(chunk(*ident, delta={"role": "assistant", "content": ""}))
    if message["content"]:
        yield event_json(chunk(*ident, delta={"content": message["content"]}))
    # Each tool call whole in one piece (id, name and all the arguments), as the text is.
    for index, call in enumerate(message.get("tool_calls") or []):
        yield event_json(chunk(*ident, delta={"tool_calls": [{"index": index, **call}]}))
    yield event_json(chunk(*ident, finish_reason=choice["finish_reason"]))
    if include_usage:
        usage = answer["usage"]
        yield event_json(
            chunk(*ident, usage=Usage.of(usage["prompt_tokens"], usage["completion_tokens"]))
        )
    yield DONE


class _RecordingStream:
    """A ChatStream that keeps the text it relays; on close, a complete stream's answer is stored
    for replay and an incomplete one (client gone, model failed) gives its claim back. The write
    happens after [DONE] has been sent, off the client's wait."""

    def __init__(self, stream: ChatStream, store: IdempotencyStore, claim: Claim) -> None:
        self._stream = stream
        self._store = store
        self._claim = claim
        self._parts: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}  # tool calls by index, joined from pieces
        self._finish_reason: str | None = None
        self._ended = False
        self._closed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def events(self) -> Iterator[dict[str, Any]]:
        for event in self._stream.events():
            for choice in event.get("choices") or []:
                delta = choice.get("delta") or {}
                self._parts.append(delta.get("content") or "")
                for piece in delta.get("tool_calls") or []:
                    self._record_call(piece)
                self._finish_reason = choice.get("finish_reason") or self._finish_reason
            yield event
        self._ended = True

    def _record_call(self, piece: dict[str, Any]) -> None:
        """OpenAI's streamed pieces: the first of a call has its id and name, later ones more of
        its arguments."""
        call = self._calls.setdefault(
            piece["index"],
            {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
        )
        function = piece.get("function") or {}
        call["id"] = piece.get("id") or call["id"]
        call["function"]["name"] = function.get("name") or call["function"]["name"]
        call["function"]["arguments"] += function.get("arguments") or ""

    def _message(self) -> dict[str, Any]:
        """The answer as the buffered route gives it: with tool calls, content null if empty."""
        text = "".join(self._parts)
        if not self._calls:
            return {"role": "assistant", "content": text}
        calls = [self._calls[index] for index in sorted(self._calls)]
        return {"role": "assistant", "content": text or None, "tool_calls": calls}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stream.close()
        if not (self._ended and self._finish_reason):
            self._store.abandon(self._claim)
            return
        used = self._stream.usage()
        self._store.complete(
            self._claim,
            {
                "id": self._stream.completion_id,
                "object": "chat.completion",
                "created": self._stream.created,
                "model": self._stream.model.id,
                "choices": [
                    {
                        "index": 0,
                        "message": self._message(),
                        "finish_reason": self._finish_reason,
                    }
                ],
                "usage": Usage.of(used.prompt_tokens, used.completion_tokens).model_dump(),
            },
        )
