"""Idempotency-Key on the chat routes: claim the key while the budget is reserved, replay stored
answers, and record the answer (or give the claim back) when the request ends.

Why overlapped: the claim is one conditional DynamoDB write, so it runs at the same time as the
reservation (and, on the bearer path, the key check): the wait before the model stays one round
trip. A replay gives its speculative reservation back, so it is never charged; it is served even
when the account is out of budget, because it costs nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
from anyio import to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sparkai.api.identity import get_principal
from sparkai.api.sse import EventSourceResponse
from sparkai.api.streaming import DONE, event_json
from sparkai.auth.authenticator import Authenticator
from sparkai.chat.schemas import ChatRequest, Usage, chunk
from sparkai.chat.service import ChatService, ChatStream, Ticket
from sparkai.errors import (
    AuthUnavailableError,
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    InvalidApiKeyError,
    InvalidRequestError,
)
from sparkai.idempotency.port import Claim, IdempotencyStore, fingerprint
from sparkai.keys.records import Principal

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


@dataclass(frozen=True)
class Admitted:
    """Either a reserved ticket to run (with its Once), or a ready response (a replay)."""

    ticket: Ticket | None = None
    once: Once = NO_KEY
    replay: Response | None = None


async def admit_once(
    request: Request,
    chat_request: ChatRequest,
    *,
    route: str,
    openai: bool,
    principal: Principal | None,
    authenticator: Authenticator,
    service: ChatService,
    admission: Callable[[], Awaitable[Ticket]],
    store_factory: Callable[[], IdempotencyStore],
) -> Admitted:
    """Admit the request; with an Idempotency-Key, claim it in the same round trip of waiting."""
    key = idempotency_key(request)
    if key is None:
        return Admitted(await admission())
    remembered = authenticator.recent(request.headers.get("authorization"))
    caller = principal or (remembered.principal if remembered else None)
    if caller is None:  # nothing known without I/O: identify first (admission re-uses it)
        caller = await get_principal(request, authenticator)
    account_id = caller.account_id
    store = store_factory()
    digest = fingerprint(route, chat_request.model_dump(mode="json"))

    outcomes: dict[str, tuple[Any, BaseException | None]] = {}

    async def attempt(name: str, call: Callable[[], Awaitable[Any]]) -> None:
        try:
            outcomes[name] = (await call(), None)
        except Exception as exc:
            outcomes[name] = (None, exc)

    async with anyio.create_task_group() as group:
        group.start_soon(attempt, "admit", admission)
        group.start_soon(
            attempt, "claim", lambda: to_thread.run_sync(store.claim, account_id, key, digest)
        )
    ticket, admit_error = outcomes["admit"]
    result, claim_error = outcomes["claim"]

    async def release() -> None:
        if ticket is not None:
            await run_in_threadpool(service.release, ticket)

    claimed = result is not None and result.status == "claimed"
    wrong_account = ticket is not None and ticket.principal.account_id != account_id
    if isinstance(admit_error, InvalidApiKeyError | AuthUnavailableError) or wrong_account:
        # The caller is not who the claim assumed: nothing is replayed or kept for them.
        if claimed:
            await run_in_threadpool(store.abandon, result.claim)
        await release()
        if admit_error is not None:
            raise admit_error
        raise InvalidApiKeyError("This API key is no longer valid.")
    if claim_error is not None:
        await release()
        raise claim_error
    if not claimed:
        await release()
        if result.status == "replay":
            return Admitted(replay=replay_response(result.answer, chat_request, openai=openai))
        if result.status == "mismatch":
            raise IdempotencyKeyReusedError(
                "This Idempotency-Key was already used with a different request in the last "
                "24 hours. Use a new key for a new request."
            )
        raise IdempotencyKeyInUseError(
            "A request with this Idempotency-Key is still running. Retry after it has finished "
            "to get its answer."
        )
    if admit_error is not None:  # refused (429, 503, 400): the key stays free for a retry
        await run_in_threadpool(store.abandon, result.claim)
        raise admit_error
    return Admitted(ticket, Once(store, result.claim))


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
