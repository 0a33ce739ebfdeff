"""The chat Lambda through API Gateway events (Mangum), with moto for DynamoDB and SageMaker."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.conftest import queue_sagemaker_results
from tests.support.events import load_event
from tests.support.lambda_harness import invoke

TGI_ANSWER = {
    "id": "chatcmpl-underlying",
    "object": "chat.completion",
    "created": 1764147600,
    "model": "Qwen/Qwen2.5-7B-Instruct",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! I'm doing great. How can I help you today?",
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 18, "total_tokens": 30},
}


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])


def header(response: dict[str, Any], name: str) -> str | None:
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    multi = {k.lower(): v for k, v in (response.get("multiValueHeaders") or {}).items()}
    return headers.get(name) or (multi.get(name) or [None])[0]


def test_chat_returns_the_documented_completion(moto: None) -> None:
    queue_sagemaker_results(json.dumps(TGI_ANSWER))

    response = invoke("ChatFunction", load_event("chat/post-chat"))

    assert response["statusCode"] == 200, response["body"]
    body = body_of(response)
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chat-")
    assert body["model"] == "spark-1"  # the spark name, never the underlying model
    assert body["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! I'm doing great. How can I help you today?",
            },
            "finish_reason": "stop",
        }
    ]
    assert body["usage"] == {"prompt_tokens": 12, "completion_tokens": 18, "total_tokens": 30}
    assert isinstance(body["created"], int)
    assert header(response, "x-request-id") == "6a1f7c2e-0b5d-4c1e-9f0a-example00001"
    assert header(response, "x-ratelimit-limit-requests") == "90"


@pytest.mark.parametrize(
    ("event_name", "param", "code"),
    [
        ("chat/post-chat-bad-model", "model", "model_not_found"),
        ("chat/post-chat-empty-messages", "messages", None),
        ("chat/post-chat-invalid-json", None, "invalid_json"),
        ("chat/post-chat-max-tokens-too-large", "max_tokens", None),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(
    moto: None, event_name: str, param: str | None, code: str | None
) -> None:
    response = invoke("ChatFunction", load_event(event_name))
    assert response["statusCode"] == 400
    error = body_of(response)["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["code"] == code
    assert error["message"]
    assert header(response, "x-request-id")


def test_the_handler_still_answers_after_something_in_the_process_ran_asyncio_run(
    moto: None,
) -> None:
    # Given a warm container (the handler imported and called once), in which something then ran
    # asyncio.run(): it leaves the thread with no event loop set, and asyncio.get_event_loop(),
    # which Mangum 0.22 calls on every request, raises from then on
    assert invoke("ChatFunction", load_event("chat/get-models"))["statusCode"] == 200
    asyncio.run(asyncio.sleep(0))
    # When API Gateway invokes the function, it still answers
    response = invoke("ChatFunction", load_event("chat/get-models"))
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["object"] == "list"
