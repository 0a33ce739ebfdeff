"""stream: true end to end in one process: the real FastAPI app under uvicorn, the real boto3
client, and the local SageMaker runtime server with a scripted model (DynamoDB from moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sparkai import wiring
from sparkai.api.app import create_app
from sparkai.catalog import MODELS
from sparkai_local.sagemaker import Script
from sparkai_local.sagemaker.scripted import InvokeError
from tests.conftest import JsonLogs, KeyFactory
from tests.support.chat_server import HELLO, ChatApi
from tests.support.events import EXAMPLE_KEY, load_event
from tests.support.fixtures_servers import SageMakerServer
from tests.support.lambda_harness import invoke
from tests.support.servers import serve

TEXT = "Hello! I'm doing great. How can I help you today?"


def assert_charged_once(chat_api: ChatApi, completion_tokens: int) -> None:
    """One request in the ledger with `completion_tokens` and a prompt, at spark-1's price, and
    the month's spend counter settled to exactly that cost."""
    usage, spend = chat_api.charged()
    (row,) = usage["data"]
    assert (row["model"], row["requests"]) == ("spark-1", 1)
    assert row["completion_tokens"] == completion_tokens and row["prompt_tokens"] > 0
    cost = MODELS["spark-1"].price_per_1k_tokens * row["total_tokens"] / 1000
    assert Decimal(row["cost_usd"]) == cost
    assert Decimal(usage["totals"]["cost_usd"]) == Decimal(usage["month_to_date_usd"]) == cost
    assert spend == cost  # the worst-case reservation came back down to the real cost


def data_lines(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        if line.startswith("data: "):
            yield line[len("data: ") :]


def read_all(response: httpx.Response) -> list[str]:
    return list(data_lines(response.iter_lines()))


def chunks_of(events: list[str]) -> list[dict[str, Any]]:
    return [json.loads(e) for e in events if e != "[DONE]"]


def content(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])


def usage_records(logs: JsonLogs) -> list[dict[str, Any]]:
    return [r for r in logs.records() if r["message"] == "usage"]


@pytest.mark.parametrize("style", ["tgi", "lmi"])
def test_events_arrive_in_openai_order(chat_api: ChatApi, style: str) -> None:
    chat_api.model.backend.set_script("spark-1", Script(style=style))
    with chat_api.stream() as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-request-id"]
        assert response.headers["x-ratelimit-limit-requests"] == "90"
        events = read_all(response)

    assert events[-1] == "[DONE]"
    chunks = chunks_of(events)
    assert {c["id"] for c in chunks} == {chunks[0]["id"]} and chunks[0]["id"].startswith("chat-")
    assert {c["created"] for c in chunks} == {chunks[0]["created"]}
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "spark-1" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert content(chunks) == TEXT
    assert len(chunks) == 1 + 10 + 1 + 1  # role, ten pieces, finish, usage
    assert chunks[-2]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 24, "completion_tokens": 10, "total_tokens": 34}


def test_without_container_usage_the_service_counts(chat_api: ChatApi) -> None:
    chat_api.model.backend.set_script(
        "spark-1", Script(include_usage=False, chunks=["a", "b", "c"])
    )
    with chat_api.stream() as response:
        chunks = chunks_of(read_all(response))
    usage = chunks[-1]["usage"]
    assert usage["completion_tokens"] == 3
    assert usage["prompt_tokens"] > 0 and usage["total_tokens"] == usage["prompt_tokens"] + 3


def test_a_failure_mid_stream_is_one_error_event_then_the_end(
    chat_api: ChatApi, json_logs: JsonLogs
) -> None:
    chat_api.model.backend.set_script("spark-1", Script(fail_after=3))
    with chat_api.stream() as response:
        assert response.status_code == 200  # the first bytes were already sent
        events = read_all(response)
    assert "[DONE]" not in events
    last = json.loads(events[-1])
    assert set(last) == {"error"}
    assert last["error"]["code"] == "model_error" and last["error"]["type"] == "server_error"
    assert content(chunks_of(events[:-1])) == "Hello! I'm doing"
    (usage,) = usage_records(json_logs)
    assert (
        usage["complete"] is False and usage["completion_tokens"] == 3
    )  # what was produced is counted
    assert_charged_once(chat_api, completion_tokens=3)  # and is in the ledger and the spend


@pytest.mark.parametrize(
    ("script", "status", "code"),
    [
        (Script(invoke_error=InvokeError("ServiceUnavailable")), 503, "model_unavailable"),
        (Script(invoke_error=InvokeError("ModelNotReadyException")), 503, "model_unavailable"),
        (
            Script(
                invoke_error=InvokeError(
                    "ModelError",
                    original_status_code=422,
                    message="Input validation error: inputs tokens + max_new_tokens must be <= 4096",
                )
            ),
            400,
            "context_length_exceeded",
        ),
        (
            Script(invoke_error=InvokeError("ModelError", original_status_code=500)),
            502,
            "model_error",
        ),
        (Script(fail_after=0), 502, "model_error"),
    ],
)
def test_failures_before_the_first_byte_are_ordinary_http_errors(
    chat_api: ChatApi, script: Script, status: int, code: str, json_logs: JsonLogs
) -> None:
    chat_api.model.backend.set_script("spark-1", script)
    with chat_api.stream() as response:
        response.read()
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code
    if status == 503:
        assert int(response.headers["retry-after"]) >= 1
    if status == 502:  # the model ran and failed: the request and its prompt are charged
        (usage,) = usage_records(json_logs)
        assert usage["completion_tokens"] == 0 and usage["prompt_tokens"] > 0
        assert usage["complete"] is False
        assert_charged_once(chat_api, completion_tokens=0)
    else:  # the endpoint never ran it (unavailable) or refused the prompt: nothing is charged
        assert usage_records(json_logs) == []
        ledger, spend = chat_api.charged()
        assert (ledger["data"], spend) == ([], Decimal(0))  # the reservation came back whole


def test_the_first_chunk_arrives_while_the_model_is_still_generating(chat_api: ChatApi) -> None:
    # Given a model that stops after its first piece until the test lets it go on
    chat_api.model.backend.set_script("spark-1", Script(gate_after=1))
    with chat_api.stream() as response:
        lines = data_lines(response.iter_lines())
        role, first = json.loads(next(lines)), json.loads(next(lines))
        # Then the client already holds the first words while the model is still held back
        record = chat_api.model.backend.wait_for_stream()
        assert record.at_gate.wait(10)
        assert role["choices"][0]["delta"]["role"] == "assistant"
        assert first["choices"][0]["delta"]["content"] == "Hello!"
        assert record.waiting_at_gate and not record.completed
        chat_api.model.backend.release()
        rest = list(lines)
    assert rest[-1] == "[DONE]"
    assert content(chunks_of(rest)) == TEXT.removeprefix("Hello!")


def test_a_client_that_leaves_closes_the_model_stream_and_is_charged_for_what_it_got(
    chat_api: ChatApi, json_logs: JsonLogs
) -> None:
    chat_api.model.backend.set_script("spark-1", Script(gate_after=2))
    with chat_api.stream() as response:
        lines = data_lines(response.iter_lines())
        received = [json.loads(next(lines)) for _ in range(3)]  # role + two pieces
    # The client is gone (the connection closed) while the model was held after two pieces.
    record = chat_api.model.backend.wait_for_stream()
    assert record.finished.wait(10), "the model stream was not closed"
    assert record.closed_early and not record.completed
    assert record.chunks_emitted == 2
    assert content(received) == "Hello! I'm"
    usage = json_logs.wait_for("usage")  # settled just after the model stream closed
    assert len(usage) == 1
    assert usage[0]["complete"] is False and usage[0]["streamed"] is True
    assert usage[0]["completion_tokens"] == 2
    # The ledger and the spend hold it (GET /v1/usage waits for a settle still running)
    assert_charged_once(chat_api, completion_tokens=2)


def test_parts_split_anywhere_still_decode(chat_api: ChatApi) -> None:
    parts = [
        b'data: {"choices":[{"delta":{"content":"Gr',
        b"\xc3",
        b'\xbc\xc3\x9fe"}}]}\n',
        b"",
        b"\n: keep-alive\n\n",
        b'data: {"choices":[{"delta":{},"finish_reason":"length"}]}\n\ndata: [DO',
        b"NE]\n\n",
    ]
    chat_api.model.backend.set_script("spark-1", Script(raw_parts=parts))
    with chat_api.stream() as response:
        chunks = chunks_of(read_all(response))
    assert content(chunks) == "Grüße"
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"


def test_stream_false_on_the_stream_url_is_ordinary_json(chat_api: ChatApi) -> None:
    response = httpx.post(
        f"{chat_api.url}/v1/chat",
        json={**HELLO, "stream": False},
        headers={"Authorization": f"Bearer {chat_api.key}"},
    )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == TEXT


def test_openai_path_sends_usage_only_when_asked(chat_api: ChatApi) -> None:
    def usage_chunks(body: dict[str, Any]) -> int:
        with httpx.stream(
            "POST",
            f"{chat_api.url}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {chat_api.key}"},
        ) as response:
            return sum(1 for c in chunks_of(read_all(response)) if "usage" in c)

    assert usage_chunks(HELLO) == 0
    assert usage_chunks({**HELLO, "stream_options": {"include_usage": True}}) == 1


def test_the_function_url_event_streams_like_the_adapter_would_relay_it(
    moto: None,
    make_key: KeyFactory,
    sagemaker_server: SageMakerServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The Lambda Web Adapter turns a Function URL event into this HTTP request to uvicorn.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server.url)
    make_key(secret=EXAMPLE_KEY)
    event = load_event("chat_stream/function-url-stream")
    with serve(create_app()) as url:
        response = httpx.request(
            event["requestContext"]["http"]["method"],
            url + event["rawPath"],
            headers=event["headers"],
            content=event["body"],
        )
    assert response.status_code == 200
    events = list(data_lines(iter(response.text.splitlines())))
    assert events[-1] == "[DONE]" and content(chunks_of(events)) == TEXT

    no_key = load_event("chat_stream/function-url-no-key")
    with serve(create_app()) as url:
        response = httpx.post(
            url + no_key["rawPath"], headers=no_key["headers"], content=no_key["body"]
        )
    assert response.status_code == 401


def test_the_buffered_api_gateway_path_returns_the_same_events_in_one_body(
    moto: None, sagemaker_server: SageMakerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server.url)
    response = invoke("ChatFunction", load_event("chat/post-chat-stream"))
    assert response["statusCode"] == 200
    headers = {k.lower(): v for k, v in response["headers"].items()}
    assert headers["content-type"].startswith("text/event-stream")
    events = list(data_lines(iter(response["body"].splitlines())))
    chunks = chunks_of(events)
    assert events[-1] == "[DONE]"
    assert content(chunks) == TEXT
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant" and "usage" in chunks[-1]


def test_a_stalled_model_is_cut_at_the_deadline_with_its_own_error_and_charged(
    chat_api: ChatApi, json_logs: JsonLogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a model that sends two pieces and then stalls (held at a gate it never passes), and a
    # stream deadline: only the deadline's watchdog can end this stream
    monkeypatch.setenv("SPARKAI_STREAM_DEADLINE_SECONDS", "1")
    wiring.reset()
    chat_api.model.backend.set_script("spark-1", Script(gate_after=2))
    with chat_api.stream() as response:
        events = read_all(response)
    # Then the client sees the two pieces and one deadline error event (not an internal error)
    assert "[DONE]" not in events
    assert content(chunks_of(events[:-1])) == "Hello! I'm"
    assert json.loads(events[-1])["error"]["code"] == "stream_deadline_exceeded"
    # And what was sent is charged, once
    (usage,) = json_logs.wait_for("usage")
    assert usage["complete"] is False and usage["completion_tokens"] == 2
    assert_charged_once(chat_api, completion_tokens=2)


# What a container sends when it JSON-escapes half of an emoji (ensure_ascii=True, one token
# of the pair): a lone UTF-16 surrogate, which no UTF-8 body can carry.
LONE_SURROGATE_EVENT = b'data: {"choices":[{"delta":{"content":"Hi \\ud83d!"}}]}\n\n'


def test_a_lone_surrogate_from_the_model_streams_as_a_replacement_character(
    chat_api: ChatApi,
) -> None:
    parts = [
        LONE_SURROGATE_EVENT,
        b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n',
        b'data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3}}\n\n',
        b"data: [DONE]\n\n",
    ]
    chat_api.model.backend.set_script("spark-1", Script(raw_parts=parts))
    with chat_api.stream() as response:
        assert response.status_code == 200
        events = read_all(response)
    assert events[-1] == "[DONE]"
    chunks = chunks_of(events)
    assert content(chunks) == "Hi \ufffd!"
    assert not any("error" in c for c in chunks)
    assert_charged_once(chat_api, completion_tokens=3)


def test_a_lone_surrogate_in_a_buffered_answer_is_a_replacement_character(
    chat_api: ChatApi,
) -> None:
    # The local container json.dumps its answer, so the lone surrogate arrives as `\ud83d`.
    chat_api.model.backend.set_script("spark-1", Script(chunks=["Hi \ud83d", "!"]))
    response = httpx.post(
        f"{chat_api.url}/v1/chat",
        json={**HELLO, "stream": False},
        headers={"Authorization": f"Bearer {chat_api.key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "Hi \ufffd!"
    assert_charged_once(chat_api, completion_tokens=2)
