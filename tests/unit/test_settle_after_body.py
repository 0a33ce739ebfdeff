"""The response that settles a buffered answer after its body: the settle runs once, after the
last byte, and also when sending fails (the client left), so no answer goes unmetered."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from sparkai.api.buffered import _SettleAfterBody


def run(response: _SettleAfterBody, send: Any) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "POST", "path": "/v1/chat", "headers": []}
    anyio.run(response, scope, receive, send)


def test_the_settle_runs_once_after_the_last_byte() -> None:
    events: list[str] = []

    async def settle() -> None:
        events.append("settled")

    async def send(message: dict[str, Any]) -> None:
        events.append(message["type"])

    run(_SettleAfterBody({"id": "chat-1"}, {}, settle), send)
    assert events == ["http.response.start", "http.response.body", "settled"]


def test_the_settle_runs_when_the_client_is_gone() -> None:
    settled: list[bool] = []

    async def settle() -> None:
        settled.append(True)

    async def send(message: dict[str, Any]) -> None:
        raise OSError("connection reset")

    with pytest.raises(OSError):
        run(_SettleAfterBody({"id": "chat-1"}, {}, settle), send)
    assert settled == [True]


def test_a_failed_settle_after_the_body_is_logged_not_raised() -> None:
    async def settle() -> None:
        raise RuntimeError("DynamoDB unavailable")

    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    run(_SettleAfterBody({"id": "chat-1"}, {}, settle), send)  # no exception reaches the server
    assert sent == ["http.response.start", "http.response.body"]
