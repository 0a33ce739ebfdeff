"""Server-sent events for a ChatStream: each chunk leaves as soon as the model produces it."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import anyio
from anyio import to_thread

from sparkai.api.errors import INTERNAL, INTERNAL_MESSAGE, body_for, error_body
from sparkai.chat.service import ChatStream
from sparkai.errors import SparkAIError
from sparkai.observability import logger

DONE = "[DONE]"


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
