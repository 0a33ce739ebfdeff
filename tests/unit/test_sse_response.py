"""The SSE response: event framing, the keep-alive comment, and (opt-in) the body ending at [DONE]
before the work that follows it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from sparkai.api.after_body import after_body
from sparkai.api.sse import SETTLE_AFTER_LAST_BYTE, EventSourceResponse, encode_event

SCOPE = {"type": "http", "method": "POST", "path": "/v1/chat", "headers": []}


def test_each_line_of_an_event_is_a_data_line_and_a_blank_line_ends_it() -> None:
    assert encode_event('{"a":1}') == b'data: {"a":1}\n\n'
    assert encode_event("one\ntwo") == b"data: one\ndata: two\n\n"
    assert encode_event("one\r\ntwo\rthree\n") == b"data: one\ndata: two\ndata: three\ndata: \n\n"


@pytest.mark.parametrize(
    "char", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]
)
def test_only_cr_and_lf_end_a_line(char: str) -> None:
    # str.splitlines() splits on these too: the JSON around them then broke in two data: lines
    data = f'{{"content":"a{char}b"}}'
    assert encode_event(data) == f"data: {data}\n\n".encode()


class Client:
    """An ASGI server's side of one response: what was sent, and a disconnect on demand."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.body_ended = anyio.Event()
        self.leave = anyio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.leave.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self.body_ended.set()

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])


def _run(response: EventSourceResponse, client: Client) -> None:
    async def main() -> None:
        with anyio.fail_after(10):  # a guard against a hang, not a timing assertion
            await response(SCOPE, client.receive, client.send)

    anyio.run(main)


def test_with_the_option_on_the_body_ends_at_done_and_the_rest_runs_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a stream whose last step (settling) can only finish once the client has the end
    monkeypatch.setenv(SETTLE_AFTER_LAST_BYTE, "1")
    client = Client()
    order: list[str] = []

    async def content() -> AsyncIterator[str]:
        yield '{"n":1}'
        yield "[DONE]"
        await client.body_ended.wait()  # would never return if the body ended after us
        order.append("settled")

    response = EventSourceResponse(content(), headers={"x-a": "b"}, final="[DONE]")
    # When it runs
    _run(response, client)
    # Then the client got every event and the end of the body, and the settle ran afterwards
    assert client.messages[0]["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in client.messages[0]["headers"]
    assert client.body == b'data: {"n":1}\n\ndata: [DONE]\n\n'
    assert [m.get("more_body") for m in client.messages[1:]] == [True, False]
    assert order == ["settled"]


def test_by_default_the_body_ends_only_when_the_stream_is_finished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SETTLE_AFTER_LAST_BYTE, raising=False)
    client = Client()
    seen_end_before_settle: list[bool] = []

    async def content() -> AsyncIterator[str]:
        yield "[DONE]"
        seen_end_before_settle.append(client.body_ended.is_set())

    _run(EventSourceResponse(content(), final="[DONE]"), client)
    assert seen_end_before_settle == [False]
    assert client.body == b"data: [DONE]\n\n"
    assert client.messages[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


def test_a_quiet_stream_gets_keep_alive_comments_and_a_client_that_leaves_stops_it() -> None:
    client = Client()
    pinged = anyio.Event()
    cancelled: list[bool] = []

    async def send(message: dict[str, Any]) -> None:
        await client.send(message)
        if message.get("body") == b": ping\n\n":
            pinged.set()

    async def content() -> AsyncIterator[str]:
        yield '{"n":1}'
        try:
            await pinged.wait()
            client.leave.set()  # the client goes away while the model is quiet
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(True)
            raise
        yield "never"

    async def main() -> None:
        with anyio.fail_after(10):
            await EventSourceResponse(content(), ping=0.01)(SCOPE, client.receive, send)

    anyio.run(main)
    assert cancelled == [True]
    assert b": ping\n\n" in client.body
    assert b"never" not in client.body


def test_the_settle_after_the_last_byte_is_counted_until_it_is_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the option on: the client has the whole body while the settle still runs
    monkeypatch.setenv(SETTLE_AFTER_LAST_BYTE, "1")
    client = Client()
    counted_while_settling: list[int] = []

    async def content() -> AsyncIterator[str]:
        yield "[DONE]"
        await client.body_ended.wait()
        counted_while_settling.append(after_body.running)

    _run(EventSourceResponse(content(), final="[DONE]"), client)
    # Then GET /v1/usage would have waited for it (counted), and nothing is left counted
    assert counted_while_settling == [1]
    assert after_body.running == 0


def test_a_client_that_leaves_is_counted_before_the_stream_is_cancelled() -> None:
    client = Client()
    counted_when_cancelled: list[int] = []

    async def content() -> AsyncIterator[str]:
        yield '{"n":1}'
        try:
            client.leave.set()
            await anyio.sleep_forever()
        finally:  # where the chat stream stops the model and settles what was sent
            counted_when_cancelled.append(after_body.running)

    _run(EventSourceResponse(content(), final="[DONE]"), client)
    assert counted_when_cancelled == [1]
    assert after_body.running == 0


def test_settled_returns_once_the_counted_work_is_done() -> None:
    events: list[str] = []

    async def main() -> None:
        async def read_usage() -> None:
            await after_body.settled()
            events.append("usage read")

        with anyio.fail_after(10):  # a guard against a hang, not a timing assertion
            async with anyio.create_task_group() as tasks:
                with after_body.working():
                    tasks.start_soon(read_usage)
                    await wait_all_tasks_blocked()  # the reader is waiting, not done
                    events.append("settle done")

    anyio.run(main)
    assert events == ["settle done", "usage read"]
    assert after_body.running == 0


def test_settled_does_not_wait_for_work_begun_after_it_was_asked() -> None:
    # Steady traffic must not hold a usage read: only what ran when it asked counts.
    async def main() -> None:
        read = anyio.Event()

        async def read_usage() -> None:
            await after_body.settled()
            read.set()

        with anyio.fail_after(10):  # a guard against a hang, not a timing assertion
            async with anyio.create_task_group() as tasks:
                with after_body.working():
                    tasks.start_soon(read_usage)
                    await wait_all_tasks_blocked()
                    later = after_body.started()
                await read.wait()  # returns while `later` still runs
                assert after_body.running == 1
                after_body.finished(later)

    anyio.run(main)
    assert after_body.running == 0
