"""Chat through API Gateway's streaming integration: GatewayStreamFunction's template environment,
the real app under uvicorn, and each events/chat_stream/apigw-*.json relayed the way the Lambda Web
Adapter relays it (tests/support/adapter_relay.py). The caller is whoever API Gateway's authorizer
said, taken from the forwarded request context; never from a header a client can set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sparkai.api.app import create_app
from tests.conftest import JsonLogs, KeyFactory
from tests.support.adapter_relay import REQUEST_CONTEXT, relay, send
from tests.support.events import EXAMPLE_KEY, load_event
from tests.support.fixtures_servers import SageMakerServer
from tests.support.lambda_harness import function_environment, function_spec
from tests.support.servers import serve

TEXT = "Hello! I'm doing great. How can I help you today?"
AUTHORIZED_ACCOUNT = "acct_example0000001"  # what the events' authorizer context says


def data_events(response: httpx.Response) -> list[str]:
    return [
        line[len("data: ") :] for line in response.text.splitlines() if line.startswith("data: ")
    ]


def content_of(events: list[str]) -> str:
    chunks = [json.loads(e) for e in events if e != "[DONE]"]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


@pytest.fixture
def gateway_app(
    moto: None, sagemaker_server: SageMakerServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """GatewayStreamFunction as deployed: its template environment, the app under uvicorn."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server.url)
    with function_environment(function_spec("GatewayStreamFunction")), serve(create_app()) as url:
        yield url


def usage_accounts(logs: JsonLogs) -> list[str]:
    return [r["account_id"] for r in logs.records() if r.get("message") == "usage"]


def test_stream_true_arrives_as_events_for_the_authorizers_principal(
    gateway_app: str, json_logs: JsonLogs
) -> None:
    # Given the streaming integration's event (same input shape as a proxy integration), when the
    # adapter relays it, then the answer is OpenAI-style SSE charged to the authorizer's account.
    event = load_event("chat_stream/apigw-stream")
    response = send(gateway_app, event)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-request-id"] == event["requestContext"]["requestId"]
    events = data_events(response)
    assert events[-1] == "[DONE]" and content_of(events) == TEXT
    assert "usage" in json.loads(events[-2])
    assert usage_accounts(json_logs) == [AUTHORIZED_ACCOUNT]


def test_stream_false_is_one_json_body(gateway_app: str) -> None:
    response = send(gateway_app, load_event("chat_stream/apigw-buffered"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == TEXT
    assert response.headers["x-ratelimit-limit-requests"] == "90"  # the context's rpm


def test_the_openai_path_streams_with_usage_when_asked(gateway_app: str) -> None:
    response = send(gateway_app, load_event("chat_stream/apigw-completions-stream"))
    assert response.status_code == 200
    events = data_events(response)
    assert content_of(events) == TEXT and "usage" in json.loads(events[-2])


def test_the_authorization_header_is_not_what_identifies_the_caller(
    gateway_app: str, json_logs: JsonLogs
) -> None:
    # The key in the event is in no key store here; the authorizer already checked it. Without
    # the header the request is still the authorizer's principal's.
    event = load_event("chat_stream/apigw-buffered")
    event["headers"].pop("Authorization")
    event["multiValueHeaders"].pop("Authorization")
    assert send(gateway_app, event).status_code == 200
    assert usage_accounts(json_logs) == [AUTHORIZED_ACCOUNT]


def test_a_context_without_the_authorizers_answer_is_refused(gateway_app: str) -> None:
    response = send(gateway_app, load_event("chat_stream/apigw-no-authorizer-context"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_without_the_adapters_context_header_nothing_runs(gateway_app: str) -> None:
    relayed = relay(load_event("chat_stream/apigw-stream"))
    headers = [(k, v) for k, v in relayed.headers if k != REQUEST_CONTEXT]
    response = httpx.post(gateway_app + relayed.path, headers=headers, content=relayed.body)
    assert response.status_code == 401


@pytest.fixture
def function_url_app(
    moto: None, sagemaker_server: SageMakerServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """ChatStreamFunction (the Function URL's) as deployed: bearer keys."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server.url)
    with function_environment(function_spec("ChatStreamFunction")), serve(create_app()) as url:
        yield url


def test_a_forged_gateway_context_on_the_function_url_gets_nothing(
    function_url_app: str, make_key: KeyFactory, json_logs: JsonLogs
) -> None:
    make_key(secret=EXAMPLE_KEY)
    event = load_event("chat_stream/function-url-forged-context")
    forged = event["headers"][REQUEST_CONTEXT]
    # Through the adapter, the client's header is replaced by the Function URL's own context.
    relayed = relay(event)
    assert dict(relayed.headers)[REQUEST_CONTEXT] != forged
    assert send(function_url_app, event).status_code == 401
    # And even if it reached the app verbatim, the bearer function never reads it.
    direct = httpx.post(
        function_url_app + event["rawPath"], headers=event["headers"], content=event["body"]
    )
    assert direct.status_code == 401
    assert direct.json()["error"]["code"] == "invalid_api_key"
    assert usage_accounts(json_logs) == []


def test_the_function_url_checks_the_key_before_reading_the_body(
    function_url_app: str, json_logs: JsonLogs
) -> None:
    # An unknown key with a body that is not even JSON: the answer is about the key.
    response = httpx.post(
        function_url_app + "/v1/chat",
        headers={"authorization": "Bearer sk-spark-" + "x" * 43, "content-type": "text/plain"},
        content=b"not json",
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def _ctx(event: dict[str, Any]) -> dict[str, Any]:
    return event["requestContext"]


def test_every_apigw_event_is_a_rest_proxy_event_for_a_streaming_route() -> None:
    # The sample events are the streaming integration's input: REST (v1) proxy events for the
    # routes GatewayStreamFunction serves, with the authorizer's context (or deliberately none).
    from sparkai_local.template import load_template

    events = load_template()["Resources"]["GatewayStreamFunction"]["Properties"]["Events"]
    routes = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events.values()}
    for name in ("apigw-stream", "apigw-buffered", "apigw-completions-stream"):
        event = load_event(f"chat_stream/{name}")
        assert (event["httpMethod"], event["resource"]) in routes
        assert {"account_id", "key_id", "plan", "rpm", "tpm", "key_prefix"} <= set(
            _ctx(event)["authorizer"]
        )
