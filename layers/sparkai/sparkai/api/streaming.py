"""Server-sent events for a ChatStream: each chunk leaves as soon as the model produces it; the
stream settles (and meters) when it closes, however it ends."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

import anyio
from anyio import to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from sparkai.api.errors import INTERNAL, INTERNAL_MESSAGE, body_for, error_body
from sparkai.api.headers import rate_limit_headers
from sparkai.api.metrics import observe_stream
from sparkai.api.sse import EventSourceResponse
from sparkai.chat.service import ChatService, ChatStream, Ticket
from sparkai.errors import SparkAIError
from sparkai.observability import logger

if TYPE_CHECKING:
    from sparkai.api.idempotency import Once

DONE = "[DONE]"
KEEPALIVE_SECONDS = 15


async def stream_answer(
    request: Request,
    service: ChatService,
    ticket: Ticket,
    once: Once,
    *,
    include_usage: bool,
    deadline: float | None,
) -> EventSourceResponse:
    """Open the model stream (failures up to its first piece are ordinary HTTP errors) and answer
    with its events; its settle runs when it closes (sparkai.chat.service.ChatStream)."""
    stream = await once.guard(
        run_in_threadpool(
            service.open_stream_reserved, ticket, include_usage=include_usage, deadline=deadline
        )
    )
    return EventSourceResponse(
        observe_stream(request, sse_data(once.recording(stream)), stream.usage),
        headers={"cache-control": "no-cache", **rate_limit_headers(stream.rate)},
        sep="\n",
        ping=KEEPALIVE_SECONDS,
        final=DONE,
    )


def event_json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def sse_data(stream: ChatStream) -> AsyncGenerator[str, None]:
    """The `data:` payloads: chunks, then [DONE]; or, if the model fails mid-stream, one error
    event and the end. On client disconnect the surrounding response cancels us at an await; the
    blocked worker is abandoned and `close()` (shielded) stops the model and settles usage."""
    events = stream.events()
    try:
        # The role chunk waits on nothing (the stream was opened on the model's first piece): it
        # leaves without a thread hop, the first byte a step sooner. Every later chunk may wait.
        event = next(events, None)
        while event is not None:
            yield event_json(event)
            if event.get("usage"):
                # The usage chunk is always the last one: [DONE] leaves now, and only then does
                # the stream finish (settle, record) while the client already has everything.
                yield DONE
                while await to_thread.run_sync(next, events, None, abandon_on_cancel=True):
                    pass
                return
            event = await to_thread.run_sync(next, events, None, abandon_on_cancel=True)
        yield DONE
    except SparkAIError as exc:
        yield event_json(body_for(exc))
    except Exception:
        logger.exception("stream.failed", extra={"completion_id": stream.completion_id})
        _, kind, code = INTERNAL
        yield event_json(error_body(INTERNAL_MESSAGE, kind, None, code))
    finally:
        with anyio.CancelScope(shield=True):
            await to_thread.run_sync(stream.close)
