"""The per-request EMF line (sparkai/api/metrics.py): what it measures, the dimension sets the
alarms read, and that no key, prompt or account id ever reaches it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import Request

from sparkai.api.metrics import (
    ALARM_DIMENSIONS,
    NAMESPACE,
    MetricsMiddleware,
    RequestMetrics,
    emf_document,
    observe_stream,
    request_metrics,
    status_class,
)

KEY = "sk-spark-SecretSecretSecretSecretSecret00000000"
PROMPT = "my very private prompt about the merger"


def metric_values(document: dict[str, Any]) -> dict[str, Any]:
    names = [m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    return {name: document[name] for name in names}


def test_a_finished_chat_request_is_one_emf_document_with_two_dimension_sets() -> None:
    metrics = RequestMetrics(started=0.0, model="spark-1", plan="pro", status=200)
    metrics.first_token_ms = 12.5
    metrics.note_usage(24, 50)
    document = emf_document(metrics, latency_ms=900.0)
    assert document is not None
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == NAMESPACE
    assert ALARM_DIMENSIONS in directive["Dimensions"]
    assert sorted(directive["Dimensions"][0]) == ["model", "plan", "service", "status_class"]
    assert (document["model"], document["plan"], document["status_class"]) == (
        "spark-1",
        "pro",
        "2xx",
    )
    values = metric_values(document)
    assert values["Latency"] in (900.0, [900.0])
    assert values["TimeToFirstToken"] in (12.5, [12.5])
    assert values["PromptTokens"] in (24, [24.0]) and values["CompletionTokens"] in (50, [50.0])
    assert values["ModelErrors"] in (0, [0.0]) and values["LimiterUnavailable"] in (0, [0.0])
    assert values["ServerErrors"] in (0, [0.0])
    # The failure counts again by service alone (what their alarms read), and nothing else:
    # each metric x dimension set is a custom metric, billed monthly.
    (rollup,) = document["_aws"]["CloudWatchMetrics"][1:]
    assert rollup["Namespace"] == NAMESPACE and rollup["Dimensions"] == [["service"]]
    assert sorted(m["Name"] for m in rollup["Metrics"]) == [
        "LimiterUnavailable",
        "ModelErrors",
        "ServerErrors",
    ]


@pytest.mark.parametrize(
    ("code", "model_errors", "limiter"),
    [("model_timeout", 1, 0), ("model_error", 1, 0), ("rate_limiter_unavailable", 0, 1)],
)
def test_model_and_limiter_errors_are_counted(code: str, model_errors: int, limiter: int) -> None:
    metrics = RequestMetrics(started=0.0, model="spark-pro", plan="starter", status=503)
    metrics.error_code = code
    document = emf_document(metrics, 5.0)
    assert document is not None
    values = metric_values(document)
    assert values["ModelErrors"] in (model_errors, [float(model_errors)])
    assert values["LimiterUnavailable"] in (limiter, [float(limiter)])
    assert values["ServerErrors"] in (1, [1.0])  # a 503
    assert document["status_class"] == "5xx" and document["error_code"] == code


def test_only_known_models_are_measured() -> None:
    # A model name is client input until the catalog accepts it: no unbounded dimensions.
    assert emf_document(RequestMetrics(started=0.0, model=PROMPT), 1.0) is None
    assert emf_document(RequestMetrics(started=0.0), 1.0) is None
    assert status_class(None) == "5xx" and status_class(429) == "4xx"


def _scope(body: bytes, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat",
        "headers": headers,
        "query_string": b"",
        "state": {},
    }


async def _run(app: Any, sink: list[str], headers: list[tuple[bytes, bytes]]) -> None:
    middleware = MetricsMiddleware(app, sink=sink.append)
    body = json.dumps({"model": "spark-1", "messages": [{"role": "user", "content": PROMPT}]})
    messages = [{"type": "http.request", "body": body.encode(), "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await middleware(_scope(body.encode(), headers), receive, send)


def test_the_middleware_emits_no_key_no_prompt_and_reads_5xx_codes() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        await request.body()
        metrics = request_metrics(request)
        metrics.model, metrics.plan = "spark-1", "pro"
        body = json.dumps(
            {
                "error": {
                    "message": PROMPT,
                    "type": "server_error",
                    "param": None,
                    "code": "model_unavailable",
                }
            }
        )
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": body.encode()})

    sink: list[str] = []
    asyncio.run(_run(app, sink, [(b"authorization", f"Bearer {KEY}".encode())]))
    (line,) = sink
    assert KEY not in line and "sk-spark" not in line
    assert PROMPT not in line and "merger" not in line
    document = json.loads(line)
    assert document["error_code"] == "model_unavailable"
    assert metric_values(document)["ModelErrors"] in (1, [1.0])


def test_a_stream_notes_its_first_token_its_usage_and_a_mid_stream_error() -> None:
    async def events() -> AsyncGenerator[str, None]:
        yield '{"choices":[{"delta":{"role":"assistant","content":""}}]}'
        yield '{"choices":[{"index":0,"delta":{"content":"Hi"}}]}'
        yield '{"error":{"message":"x","type":"server_error","param":null,"code":"model_error"}}'

    request = Request({"type": "http", "headers": [], "state": {}})
    metrics = request_metrics(request)
    used = SimpleNamespace(prompt_tokens=7, completion_tokens=1)

    async def consume() -> list[str]:
        return [data async for data in observe_stream(request, events(), lambda: used)]

    relayed = asyncio.run(consume())
    assert len(relayed) == 3  # relayed unchanged
    assert metrics.first_token_ms is not None
    assert metrics.error_code == "model_error"
    assert (metrics.prompt_tokens, metrics.completion_tokens) == (7, 1)
