"""`make run` with the scripted model: what a new user does first, over real HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.local.conftest import (
    DEMO_KEY,
    RunningStack,
    admin_cli,
    port_is_open,
    start_stack,
    stop_stack,
)

pytestmark = [pytest.mark.local]
HELLO = {"model": "spark-1", "messages": [{"role": "user", "content": "Hello!"}]}


def sse_events(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


def test_the_banner_gives_the_key_and_a_ready_curl(stack: RunningStack) -> None:
    text = "".join(stack.output)
    assert stack.key == DEMO_KEY  # SPARKAI_DEMO_KEY pins it for scripts
    assert f"curl {stack.url}/v1/chat" in text and f"Bearer {DEMO_KEY}" in text


def test_buffered_chat_with_the_demo_key(stack: RunningStack) -> None:
    response = httpx.post(
        f"{stack.url}/v1/chat", json=HELLO, headers={"Authorization": f"Bearer {stack.key}"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "spark-1"
    assert body["choices"][0]["message"]["content"]
    assert (
        body["usage"]["total_tokens"]
        == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )
    assert response.headers["x-ratelimit-limit-requests"] == "90"  # the demo account is on Pro


def test_streamed_chat_with_the_demo_key(stack: RunningStack) -> None:
    with httpx.stream(
        "POST",
        f"{stack.url}/v1/chat",
        json={**HELLO, "stream": True},
        headers={"Authorization": f"Bearer {stack.key}"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.read().decode())
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert len({c["id"] for c in chunks}) == 1
    assert "usage" in chunks[-1]


def test_no_key_is_401(stack: RunningStack) -> None:
    response = httpx.post(f"{stack.url}/v1/chat", json=HELLO)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_bad_model_is_400(stack: RunningStack) -> None:
    response = httpx.post(
        f"{stack.url}/v1/chat",
        json={**HELLO, "model": "gpt-4"},
        headers={"Authorization": f"Bearer {stack.key}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"


def admin(stack: RunningStack, *args: str) -> str:
    return admin_cli(stack, *args)


def test_past_the_limit_is_429_and_revocation_is_immediate(stack: RunningStack) -> None:
    # Given an Enterprise account with 2 requests/min, made with the admin CLI against the stack
    account = json.loads(
        admin(stack, "account", "create", "--plan", "enterprise", "--rpm", "2", "--tpm", "50000")
    )
    key = json.loads(admin(stack, "key", "create", account["account_id"]))
    headers = {"Authorization": f"Bearer {key['key']}"}
    statuses = [
        httpx.post(f"{stack.url}/v1/chat", json=HELLO, headers=headers).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    refused = httpx.post(f"{stack.url}/v1/chat", json=HELLO, headers=headers)
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 60

    admin(stack, "key", "revoke", key["key_id"])
    assert httpx.post(f"{stack.url}/v1/chat", json=HELLO, headers=headers).status_code == 401


def test_ctrl_c_stops_everything() -> None:
    # A stack of its own, so the shared one keeps serving the other tests.
    running = start_stack("--model", "scripted")
    assert all(port_is_open(p) for p in running.ports())
    assert stop_stack(running) == 0
    assert "Stopped." in running.process.stdout.read()  # type: ignore[union-attr]
    assert not any(port_is_open(p) for p in running.ports())
