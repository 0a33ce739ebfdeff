"""A small server-sent-events response: `data:` events as they come, a keep-alive comment while
the model is quiet, and the end of the body as soon as the last event is out.

Replaces sse_starlette, whose import pulls in uvicorn (~180 ms of the chat function's cold start
on the 2-core benchmark machine) for nothing the Lambda functions use.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterable, Mapping

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from sparkai.api.after_body import after_body

# Ending the body before the work that follows it (settling usage) saves the client that work's
# round trip, but only where the process outlives the response: in Lambda the runtime may freeze
# it as soon as the Web Adapter ends the invocation with the stream, and the settle would wait for
# the next request. So it is opt-in, for servers that keep running (the local stack sets it).
SETTLE_AFTER_LAST_BYTE = "SPARKAI_SETTLE_AFTER_LAST_BYTE"


def settle_after_last_byte() -> bool:
    """Whether this server settles after a response's last byte (read per response, so a test's
    environment applies at once)."""
    return os.environ.get(SETTLE_AFTER_LAST_BYTE) == "1"


# The only line ends of text/event-stream (WHATWG HTML, "Parsing an event stream"): CRLF, LF, CR.
# Not str.splitlines(), which also splits on U+2028, U+2029, U+0085, \v, \f and \x1c-\x1e: the JSON
# we send keeps those raw (ensure_ascii=False), so a chunk holding one left as two `data:` lines,
# which every client rejoins with a newline, and the JSON no longer parsed. Fixed here, in the
# framing, rather than by escaping those characters in the JSON: the framing must be right for any
# data, and the JSON stays raw UTF-8 (3 bytes for a CJK character, not 6), as OpenAI streams it.
_LINE_END = re.compile(r"\r\n|\r|\n")


def encode_event(data: str, sep: str = "\n") -> bytes:
    """One event whose data a client decodes back to `data` (a CR or CRLF comes back as LF: the
    format cannot carry them; JSON never holds a raw one)."""
    lines = _LINE_END.split(data) if "\n" in data or "\r" in data else [data]
    return ("".join(f"data: {line}{sep}" for line in lines) + sep).encode()


class EventSourceResponse(Response):
    """`content` yields the data of each event. When it yields `final` the body ends right there
    (with SPARKAI_SETTLE_AFTER_LAST_BYTE=1); the iterator is then drained, so its remaining work (settling usage) runs
    after the client has the whole answer. A client that leaves before that cancels the iterator
    at its next await."""

    media_type = "text/event-stream"

    def __init__(
        self,
        content: AsyncIterable[str],
        *,
        headers: Mapping[str, str] | None = None,
        sep: str = "\n",
        ping: float | None = None,
        final: str | None = None,
        status_code: int = 200,
    ) -> None:
        self.status_code = status_code
        self.background = None
        self._content = content
        self._sep = sep
        self._ping = ping
        self._final = final if settle_after_last_byte() else None
        self._ended = False
        self._ticket: int | None = None  # after_body's, from the start of the work that settles
        self._lock = anyio.Lock()
        self.init_headers({"x-accel-buffering": "no", **(headers or {})})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._watch, receive, tasks.cancel_scope)
            if self._ping:
                tasks.start_soon(self._keep_alive, send)
            try:
                await self._relay(send)
            finally:
                tasks.cancel_scope.cancel()  # the watcher and the pinger are done
                # Cancelled (client gone) or not, close the iterator now rather than whenever it
                # is collected: closing it is what stops the model and charges what was used.
                self._count()  # if not yet: closing the iterator is what settles
                try:
                    aclose = getattr(self._content, "aclose", None)
                    if aclose is not None:
                        with anyio.CancelScope(shield=True):
                            await aclose()
                finally:
                    if self._ticket is not None:
                        after_body.finished(self._ticket)

    async def _relay(self, send: Send) -> None:
        async for data in self._content:
            if self._ended:
                continue  # drained after the body ended: nothing more to say
            more = data != self._final
            if not more:
                self._count()  # before the client can have the last byte
            async with self._lock:
                await send(
                    {
                        "type": "http.response.body",
                        "body": encode_event(data, self._sep),
                        "more_body": more,
                    }
                )
                self._ended = not more
        if not self._ended:
            async with self._lock:
                self._ended = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watch(self, receive: Receive, scope: anyio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        # Once the body has ended, servers report a disconnect at once: that is no reason to cut
        # short the work that follows it.
        if not self._ended:
            self._count()  # before the cancellation that stops the model and settles
            scope.cancel()

    def _count(self) -> None:
        """Track, once, the work that settles this stream (after its last byte, or once its client
        has gone) from before it begins until it is done: GET /v1/usage waits for it."""
        if self._ticket is None:
            self._ticket = after_body.started()

    async def _keep_alive(self, send: Send) -> None:
        assert self._ping
        comment = f": ping{self._sep}{self._sep}".encode()
        while True:
            await anyio.sleep(self._ping)
            async with self._lock:
                if self._ended:
                    return
                await send({"type": "http.response.body", "body": comment, "more_body": True})
