"""The local SageMaker server's stream relay (sparkai_local.sagemaker.server.EventStreamResponse):
the backend generates ahead of the network, as a model server's generation loop does, and is
closed by the thread that iterates it whether the stream ends, fails or the client goes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

from sparkai_local.sagemaker.backends import StreamFailure
from sparkai_local.sagemaker.server import EventStreamResponse

GUARD_SECONDS = 30  # a deadlock guard, not a timing assertion: every wait here is on an event


class Backend:
    """An iterator of `count` raw parts that records what happened to it."""

    def __init__(self, count: int, fail_after: int | None = None) -> None:
        self.count = count
        self.fail_after = fail_after
        self.produced = 0
        self.exhausted = threading.Event()
        self.closed = threading.Event()

    def items(self) -> Iterator[bytes]:
        try:
            for i in range(self.count):
                if self.fail_after is not None and i == self.fail_after:
                    raise StreamFailure("ModelStreamError", "the model broke", "ModelError")
                self.produced += 1
                yield f"part-{i}".encode()
            self.exhausted.set()
        finally:
            self.closed.set()


def _response(backend: Backend, disconnected: threading.Event | None = None) -> Any:
    return EventStreamResponse(backend.items(), "tgi", disconnected or threading.Event(), {})


async def _wait(event: threading.Event) -> bool:
    return await asyncio.to_thread(event.wait, GUARD_SECONDS)


def test_the_backend_runs_ahead_while_a_part_is_still_being_sent() -> None:
    backend = Backend(count=5)
    bodies: list[bytes] = []

    async def scenario() -> bool:
        async def receive() -> dict[str, Any]:
            await asyncio.Event().wait()  # the client stays
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                if not bodies:  # the network is stuck on the first part...
                    assert await _wait(backend.exhausted), "generation waited for the network"
                bodies.append(message.get("body", b""))

        await _response(backend)({"type": "http"}, receive, send)
        return backend.closed.is_set()

    # ...yet the backend produced every part meanwhile, and was closed at the end.
    assert asyncio.run(scenario())
    assert backend.produced == 5
    assert sum(b"part-" in body for body in bodies) == 5


def test_a_failure_mid_stream_ends_with_the_error_event_after_the_parts_before_it() -> None:
    backend = Backend(count=5, fail_after=2)
    bodies: list[bytes] = []

    async def scenario() -> None:
        async def receive() -> dict[str, Any]:
            await asyncio.Event().wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                bodies.append(message.get("body", b""))

        await _response(backend)({"type": "http"}, receive, send)

    asyncio.run(scenario())
    sent = b"".join(bodies)
    assert sent.index(b"part-1") < sent.index(b"the model broke")
    assert b"part-2" not in sent
    assert backend.closed.is_set()


def test_a_client_that_leaves_stops_generation_and_the_backend_is_closed() -> None:
    backend = Backend(count=1_000_000)
    disconnected = threading.Event()

    async def scenario() -> None:
        first_part = asyncio.Event()

        async def receive() -> dict[str, Any]:
            await first_part.wait()
            return {"type": "http.disconnect"}  # the client goes after the first part

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                first_part.set()

        await _response(backend, disconnected)({"type": "http"}, receive, send)

    asyncio.run(scenario())
    assert disconnected.is_set()
    assert backend.closed.is_set()
    assert not backend.exhausted.is_set()  # it stopped, far short of a million parts
