"""Clients against the local stack (scripted model): the official `openai` package, our
`sparkaistream` SDK, curl, and the API docs' own Python example."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import openai
import pytest

import sparkaistream
from tests.local.conftest import (
    ROOT,
    RunningStack,
    admin_cli,
    exhausted_account,
    exhausted_key,
    refill,
    stream_ended,
)

pytestmark = [pytest.mark.local]
MESSAGES = [{"role": "user", "content": "Hello!"}]
TEXT = "Hello! I'm doing great. How can I help you today?"


@pytest.fixture(autouse=True)
def fresh_model(stack: RunningStack) -> Iterator[None]:
    httpx.post(f"{stack.sagemaker_url}/_local/reset").raise_for_status()
    yield
    httpx.post(f"{stack.sagemaker_url}/_local/reset").raise_for_status()


def script(stack: RunningStack, endpoint: str = "spark-1", **fields: Any) -> None:
    httpx.put(f"{stack.sagemaker_url}/_local/scripts/{endpoint}", json=fields).raise_for_status()


def invocations(stack: RunningStack, endpoint: str = "spark-1") -> int:
    return httpx.get(f"{stack.sagemaker_url}/_local/stats").json()["invocations"].get(endpoint, 0)


def admin(stack: RunningStack, *args: str) -> dict[str, Any]:
    return json.loads(admin_cli(stack, *args))


def limited_key(stack: RunningStack, rpm: int) -> str:
    account = admin(
        stack, "account", "create", "--plan", "enterprise", "--rpm", str(rpm), "--tpm", "1000000"
    )
    return admin(stack, "key", "create", account["account_id"])["key"]


def refilled_after_its_429(stack: RunningStack) -> tuple[str, Any]:
    """A key whose request budget is spent, refill hours away (so its next request is a 429 with
    retry-after 60 however slow the machine), and a response hook that gives the budget back once
    that 429 has been answered: the client's retry is then admitted, with no race against the
    clock. Only the retry tests need the budget back; a test that only needs a 429 takes
    conftest's exhausted_key."""
    account_id, key = exhausted_account(stack, 1)

    def on_response(response: Any) -> None:
        if response.status_code == 429:
            refill(stack, account_id)

    return key, on_response


# -- the official openai client ---------------------------------------------------------------------


def openai_client(stack: RunningStack, key: str | None = None, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.url}/v1", api_key=key or stack.key, **kwargs)


def test_openai_buffered_completion_and_usage(stack: RunningStack) -> None:
    completion = openai_client(stack).chat.completions.create(model="spark-1", messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.choices[0].message.content == TEXT
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "spark-1"
    assert (
        completion.usage is not None
        and completion.usage.total_tokens
        == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_openai_streamed_completion_with_usage(stack: RunningStack) -> None:
    stream = openai_client(stack).chat.completions.create(
        model="spark-turbo",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},  # type: ignore[arg-type]
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 10
    assert {c.id for c in chunks} == {chunks[0].id}


def test_openai_lists_and_retrieves_models(stack: RunningStack) -> None:
    client = openai_client(stack)
    assert [m.id for m in client.models.list()] == ["spark-1", "spark-turbo", "spark-pro"]
    assert client.models.retrieve("spark-pro").id == "spark-pro"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4")


def test_openai_error_classes(stack: RunningStack) -> None:
    client = openai_client(stack, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as auth:
        openai_client(
            stack, key="sk-spark-not-a-real-key-000000000000000000", max_retries=0
        ).chat.completions.create(model="spark-1", messages=MESSAGES)  # type: ignore[arg-type]
    assert auth.value.code == "invalid_api_key"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="gpt-4", messages=MESSAGES)  # type: ignore[arg-type]
    assert bad.value.param == "model"
    with pytest.raises(openai.BadRequestError) as n:
        client.chat.completions.create(model="spark-1", messages=MESSAGES, n=2)  # type: ignore[arg-type]
    assert n.value.param == "n"
    script(stack, invoke_error={"code": "ModelError", "original_status_code": 500, "count": 1})
    with pytest.raises(openai.InternalServerError) as server:
        client.chat.completions.create(model="spark-1", messages=MESSAGES)  # type: ignore[arg-type]
    assert server.value.status_code == 502
    key = exhausted_key(stack, 1)
    with pytest.raises(openai.RateLimitError) as limited:
        openai_client(stack, key=key, max_retries=0).chat.completions.create(
            model="spark-1", messages=MESSAGES
        )  # type: ignore[arg-type]
    assert limited.value.code == "rate_limit_exceeded"
    assert limited.value.response.headers["retry-after"] == "60"  # the most the limiter says


def test_openai_retries_honour_retry_after(stack: RunningStack) -> None:
    # Given a model that is unavailable once (503, retry-after)...
    script(stack, invoke_error={"code": "ServiceUnavailable", "count": 1})
    sent: list[str] = []
    http_client = httpx2.Client(
        event_hooks={"request": [lambda request: sent.append(str(request.url))]}
    )
    completion = openai_client(stack, http_client=http_client).chat.completions.create(
        model="spark-1", messages=MESSAGES
    )  # type: ignore[arg-type]
    assert completion.choices[0].message.content == TEXT
    assert len(sent) == 2 and invocations(stack) == 2
    # ...and an account at its request limit (429, retry-after 60), refilled once it has answered
    key, refill_on_429 = refilled_after_its_429(stack)
    sent.clear()
    limited = openai_client(
        stack,
        key=key,
        http_client=httpx2.Client(
            event_hooks={
                "request": [lambda request: sent.append(str(request.url))],
                "response": [refill_on_429],
            }
        ),
    )
    waits: list[float] = []
    chosen = limited._calculate_retry_timeout

    def wait_chosen(*args: Any) -> float:  # record the client's wait, then skip the minute
        waits.append(chosen(*args))
        return 0.0

    limited._calculate_retry_timeout = wait_chosen  # type: ignore[method-assign]
    completion = limited.chat.completions.create(model="spark-1", messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.choices[0].message.content == TEXT
    assert len(sent) == 2 and waits == [60.0]  # exactly the server's retry-after


def test_openai_passes_an_idempotency_key_and_a_replay_is_not_charged(stack: RunningStack) -> None:
    # Given an account that can afford one request per minute
    key = limited_key(stack, 1)
    client = openai_client(stack, key=key, max_retries=0).chat.completions
    once = {"Idempotency-Key": "local-tier-order-1"}
    first = client.with_raw_response.create(
        model="spark-1",
        messages=MESSAGES,
        extra_headers=once,  # type: ignore[arg-type]
    )
    assert first.headers["x-ratelimit-remaining-requests"] == "0"
    # When the client sends the same request with the same key again (say its answer was lost)
    again = client.with_raw_response.create(
        model="spark-1",
        messages=MESSAGES,
        extra_headers=once,  # type: ignore[arg-type]
    )
    # Then it gets the same completion, the model ran once, and nothing more was charged:
    assert again.headers["idempotent-replayed"] == "true"
    assert again.parse().id == first.parse().id
    assert again.parse().usage == first.parse().usage
    assert invocations(stack) == 1
    # a new request (no key) finds the minute's one request spent by the first call alone
    with pytest.raises(openai.RateLimitError):
        client.create(model="spark-1", messages=MESSAGES)  # type: ignore[arg-type]
    # and the same key with another body is refused, not run
    with pytest.raises(openai.UnprocessableEntityError) as reused:
        client.create(
            model="spark-1",
            messages=[{"role": "user", "content": "Something else"}],
            extra_headers=once,  # type: ignore[arg-type]
        )
    assert reused.value.code == "idempotency_key_reused"
    assert invocations(stack) == 1


# -- the sparkaistream SDK --------------------------------------------------------------------------


def sdk(stack: RunningStack, key: str | None = None, **kwargs: Any) -> sparkaistream.SparkAI:
    return sparkaistream.SparkAI(api_key=key or stack.key, base_url=stack.url, **kwargs)


def test_sdk_buffered_and_streamed(stack: RunningStack) -> None:
    with sdk(stack) as client:
        completion = client.chat.create(model="spark-1", messages=MESSAGES)
        assert completion.choices[0].message.content == TEXT
        assert completion.request_id and completion.rate_limit.limit_requests == 90
        with client.chat.create(model="spark-1", messages=MESSAGES, stream=True) as stream:
            assert "".join(stream.text_deltas()) == TEXT
        assert [m.id for m in client.models.list()] == ["spark-1", "spark-turbo", "spark-pro"]


def test_sdk_async_stream(stack: RunningStack) -> None:
    async def run() -> str:
        async with sparkaistream.AsyncSparkAI(api_key=stack.key, base_url=stack.url) as client:
            stream = await client.chat.create(model="spark-pro", messages=MESSAGES, stream=True)
            async with stream:
                return "".join(
                    [c.choices[0].delta.content or "" async for c in stream if c.choices]
                )

    assert asyncio.run(run()) == TEXT


def test_sdk_typed_errors(stack: RunningStack) -> None:
    with sdk(stack, max_retries=0) as client:
        with pytest.raises(sparkaistream.BadRequestError) as bad:
            client.chat.create(model="spark-1", messages=[])
        assert (
            bad.value.status_code == 400 and bad.value.param == "messages" and bad.value.request_id
        )
        with pytest.raises(sparkaistream.NotFoundError):
            client.models.retrieve("gpt-4")
        script(stack, invoke_error={"code": "ModelError", "original_status_code": 500, "count": 1})
        with pytest.raises(sparkaistream.InternalServerError) as server:
            client.chat.create(model="spark-1", messages=MESSAGES)
        assert server.value.code == "model_error"
    with (
        pytest.raises(sparkaistream.AuthenticationError) as auth,
        sdk(stack, key="sk-spark-not-a-real-key-000000000000000000") as client,
    ):
        client.chat.create(model="spark-1", messages=MESSAGES)
    assert auth.value.status_code == 401 and auth.value.code == "invalid_api_key"
    key = exhausted_key(stack, 1)
    with (
        pytest.raises(sparkaistream.RateLimitError) as limited,
        sdk(stack, key=key, max_retries=0) as client,
    ):
        client.chat.create(model="spark-1", messages=MESSAGES)
    assert limited.value.retry_after == 60  # its refill is hours away: the most the limiter says
    assert limited.value.type == "requests"


@pytest.mark.parametrize("failure", ["model", "limit"])
def test_sdk_retries_503_and_429_honouring_retry_after(stack: RunningStack, failure: str) -> None:
    attempts: list[str] = []
    retry_after: list[str] = []
    slept: list[float] = []
    http_client = httpx.Client(
        event_hooks={
            "request": [lambda request: attempts.append(request.url.path)],
            "response": [
                lambda response: retry_after.append(response.headers.get("retry-after", ""))
            ],
        }
    )
    key = stack.key
    if failure == "model":
        script(stack, invoke_error={"code": "ServiceUnavailable", "count": 1})
    else:  # a 429 (retry-after 60) whose budget comes back once it has been answered
        key, refill_on_429 = refilled_after_its_429(stack)
        http_client.event_hooks["response"].append(refill_on_429)

    def sleep(seconds: float) -> None:  # record the wait the SDK chose (nothing needs the time)
        slept.append(seconds)

    with sparkaistream.SparkAI(
        api_key=key, base_url=stack.url, http_client=http_client, sleep=sleep
    ) as client:
        completion = client.chat.create(model="spark-1", messages=MESSAGES)
    assert completion.choices[0].message.content == TEXT
    assert len(attempts) == 2
    assert retry_after[0] and slept == [float(retry_after[0])]  # exactly the server's retry-after


def test_closing_an_sdk_stream_stops_the_model(stack: RunningStack) -> None:
    script(stack, gate_after=2)
    with sdk(stack) as client:
        stream = client.chat.create(model="spark-1", messages=MESSAGES, stream=True)
        deltas = stream.text_deltas()
        assert next(deltas) + next(deltas) == "Hello! I'm"
        stream.close()
    # the model side sees the connection go and stops at the two pieces it was allowed
    last = stream_ended(stack, 0)
    assert last["closed_early"] and not last["completed"] and last["chunks_emitted"] == 2


def test_sdk_cli_prints_a_streamed_answer(stack: RunningStack) -> None:
    env = {**os.environ, "SPARKAI_API_KEY": stack.key, "SPARKAI_BASE_URL": stack.url}
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "sparkai"), "chat", "Hello"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == TEXT


# -- curl and the API docs' own examples ------------------------------------------------------------


def test_the_docs_curl_example(stack: RunningStack) -> None:
    # Never skipped: scripts/ensure-curl.sh (bootstrap, `make test`) installs curl.
    assert shutil.which("curl"), "curl is not installed: run scripts/ensure-curl.sh (as root)"
    result = subprocess.run(
        [
            "curl",
            "-sN",
            f"{stack.url}/v1/chat",
            "-H",
            "Content-Type: application/json",
            "-H",
            f"Authorization: Bearer {stack.key}",
            "-d",
            '{\n"model": "spark-1",\n"messages": [{"role": "user", "content": "Hello!"}],\n"stream": true\n}',
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    events = [
        line.removeprefix("data: ")
        for line in result.stdout.splitlines()
        if line.startswith("data: ")
    ]
    assert events[-1] == "[DONE]"
    assert (
        "".join(
            json.loads(e)["choices"][0]["delta"].get("content", "")
            for e in events[:-1]
            if json.loads(e)["choices"]
        )
        == TEXT
    )


DOCS_PYTHON_EXAMPLE = """
import requests
response = requests.post(
"{url}/v1/chat",
headers={{
"Authorization": "Bearer {key}",
"Content-Type": "application/json"
}},
json={{
"model": "spark-1",
"messages": [{{"role": "user", "content": "Hello!"}}],
"stream": {stream}
}}
)
print(response.json())
"""


def test_the_docs_python_example(stack: RunningStack) -> None:
    # Verbatim but for the URL, the key and "stream": False. The docs' snippet sends True and then
    # calls .json(), which no event-stream answer can satisfy (OpenAI's neither); README says so.
    code = DOCS_PYTHON_EXAMPLE.format(url=stack.url, key=stack.key, stream="False")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "chat.completion" in result.stdout and TEXT in result.stdout


DOCS_JAVASCRIPT_EXAMPLE = """
const response = await fetch('{url}/v1/chat', {{
method: 'POST',
headers: {{
'Authorization': 'Bearer {key}',
'Content-Type': 'application/json'
}},
body: JSON.stringify({{
model: 'spark-1',
messages: [{{ role: 'user', content: 'Hello!' }}],
stream: {stream}
}})
}});
const data = await response.json();
console.log(data);
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_docs_javascript_example(stack: RunningStack, tmp_path: Any) -> None:
    # Verbatim but for the URL and key, and "stream": false (see test_the_docs_python_example).
    script = tmp_path / "example.mjs"
    script.write_text(DOCS_JAVASCRIPT_EXAMPLE.format(url=stack.url, key=stack.key, stream="false"))
    result = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "object: 'chat.completion'" in result.stdout and "finish_reason: 'stop'" in result.stdout
