"""A buffered chat answer and its settlement: metered (and, with an Idempotency-Key, stored for
replay) exactly once, before the body leaves or, where the process outlives the response, after.

Why after: the settle is a DynamoDB transaction (a few ms locally, one round trip in AWS) that the
client does not need to wait for; it already has its answer. Only with
SPARKAI_SETTLE_AFTER_LAST_BYTE=1 (servers that keep running: the local stack). Under Mangum the
runtime may freeze the process as soon as the handler returns, so there the settle runs first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio import to_thread
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from sparkai.api.after_body import after_body
from sparkai.api.headers import rate_limit_headers
from sparkai.api.idempotency import Once
from sparkai.api.sse import settle_after_last_byte
from sparkai.chat.service import ChatService, Completed, Ticket
from sparkai.observability import count_failure, logger


async def _store(once: Once, answer: dict[str, Any]) -> None:
    """Keep the answer for Idempotency-Key replays. A failure is logged, never raised: the answer
    exists and is settled, the client gets it (a retry then runs the request again)."""
    try:
        await once.completed(answer)
    except Exception:
        logger.exception("chat.on_answer_failed")


async def _settle_and_store(settle: Callable[[], None], once: Once, answer: dict[str, Any]) -> None:
    """The settlement and the idempotency record at the same time: two writes, one wait."""
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_store, once, answer)
        await to_thread.run_sync(settle)


class _SettleAfterBody(JSONResponse):
    """A JSON answer whose settlement runs once the body has been sent, or the client has gone:
    shielded, so a disconnect cannot skip the metering."""

    def __init__(
        self, content: Any, headers: dict[str, str], after: Callable[[], Awaitable[None]]
    ) -> None:
        super().__init__(content, headers=headers)
        self._after = after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Tracked from before the body leaves until settled: GET /v1/usage waits for it.
        with after_body.working():
            try:
                await super().__call__(scope, receive, send)
            finally:
                with anyio.CancelScope(shield=True):
                    try:
                        await self._after()
                    except Exception:  # nobody left to tell: the body is out
                        count_failure("SettleFailures")
                        logger.exception("chat.settle_failed")


async def answer(service: ChatService, ticket: Ticket, once: Once) -> tuple[Completed, Response]:
    """Ask the model; return the answer and the response that carries it, settled exactly once."""
    completed, settle = await once.guard(to_thread.run_sync(service.answer_reserved, ticket))
    content = completed.completion.model_dump()
    headers = rate_limit_headers(completed.rate)
    if settle_after_last_byte():
        # The replay record goes first (a no-op without a key): a client that has the answer can
        # retry at once and be replayed, never told the request is still running.
        await _store(once, content)
        return completed, _SettleAfterBody(content, headers, lambda: to_thread.run_sync(settle))
    await once.guard(_settle_and_store(settle, once, content))
    return completed, JSONResponse(content, headers=headers)
