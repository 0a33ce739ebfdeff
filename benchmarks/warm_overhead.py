"""Warm, in-process time per request of the authorizer and the chat app, with every AWS call
answered instantly by an in-memory stub: under Mangum (ChatFunction: API Gateway's buffered
event; in production it serves the model and usage routes, timed with GET /v1/models), and as
GatewayStreamFunction runs it, which is where POST /v1/chat goes in production:
the ASGI app on one long-lived event loop (as uvicorn runs it behind the Lambda Web Adapter), fed
the request the adapter relays for events/chat_stream/apigw-buffered.json (authorizer context in
x-amzn-request-context). uvicorn's own HTTP parsing (httptools, C) is not included.

Budgets: <= 1 ms (authorizer; issue 2), <= 1 ms (chat app; issue 14), per request.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.stubs import ROOT, FakeDynamoDB, FakeSageMakerRuntime

WARMUP, RUNS = 200, 3000


class Context:
    function_name = "bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"


def _summary(samples: list[float]) -> tuple[float, float, float]:
    """Mean, p50 and p99 of per-request milliseconds."""
    ordered = sorted(samples)
    return statistics.fmean(ordered), ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99)]


def _time(call: Callable[[], Any]) -> tuple[float, float, float]:
    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return _summary(samples)


def _load(function_dir: str) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"bench_{function_dir.replace('/', '_')}", ROOT / function_dir / "app.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _time_asgi(app: Any, relayed: Any) -> tuple[float, float, float]:
    """_time() for the ASGI app as uvicorn serves it: one event loop and its root task outlive
    the requests (so anyio's worker threads are reused), each request runs in a task of its own."""
    import asyncio

    path, _, query = relayed.path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": relayed.method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in relayed.headers]
        + [(b"content-length", str(len(relayed.body)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    request = {"type": "http.request", "body": relayed.body, "more_body": False}

    async def one() -> None:
        status: list[int] = []
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # the client never disconnects
            sent = True
            return request

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app({**scope, "state": {}}, receive, send)
        assert status == [200], status

    async def serve() -> list[float]:
        samples = []
        for i in range(WARMUP + RUNS):
            start = time.perf_counter()
            await asyncio.get_running_loop().create_task(one())
            if i >= WARMUP:
                samples.append((time.perf_counter() - start) * 1000)
        return samples

    return _summary(asyncio.run(serve()))


def main() -> None:
    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
        SPARKAI_KEYS_TABLE="keys",
        SPARKAI_RATE_LIMITS_TABLE="limits",
        SPARKAI_AUTH_MODE="authorizer",
        POWERTOOLS_LOG_LEVEL="WARNING",  # INFO lines would time the log pipe, not the code
    )
    from sparkai import aws

    dynamodb = FakeDynamoDB()
    aws.set_client("dynamodb", dynamodb)
    runtime = FakeSageMakerRuntime()
    from sparkai import wiring

    for endpoint in wiring.model_endpoints().values():  # the chat function's own clients
        endpoint._client_factory = lambda: runtime  # type: ignore[attr-defined]

    authorizer = _load("functions/authorizer")
    auth_event = json.loads((ROOT / "events/authorizer/valid-key.json").read_text())
    chat = _load("functions/chat")
    chat_event = json.loads((ROOT / "events/chat/post-chat.json").read_text())

    response = chat.handler(chat_event, Context())
    assert response["statusCode"] == 200, response
    models_event = json.loads((ROOT / "events/chat/get-models.json").read_text())
    assert chat.handler(models_event, Context())["statusCode"] == 200
    results = {
        "authorizer (key lookup, policy)": _time(
            lambda: authorizer.lambda_handler(auth_event, Context())
        ),
        "chat via Mangum (validate, reserve, invoke, settle)": _time(
            lambda: chat.handler(chat_event, Context())
        ),
        "GET /v1/models via Mangum (ChatFunction's own route)": _time(
            lambda: chat.handler(models_event, Context())
        ),
    }
    from sparkai.api.app import create_app
    from tests.support.adapter_relay import relay

    os.environ["SPARKAI_AUTH_MODE"] = "adapter"  # GatewayStreamFunction's mode
    from sparkai.config import get_chat_settings

    get_chat_settings.cache_clear()
    adapter_event = json.loads((ROOT / "events/chat_stream/apigw-buffered.json").read_text())

    results["chat as GatewayStreamFunction runs it (ASGI, adapter)"] = _time_asgi(
        create_app(), relay(adapter_event)
    )
    print(f"{RUNS} warm requests each, AWS stubbed in memory; mean / p50 / p99")
    for name, (mean, p50, p99) in results.items():
        print(f"  {name:<52} {mean:6.3f} / {p50:6.3f} / {p99:6.3f} ms")
    print("budgets: authorizer <= 1 ms, chat <= 1 ms per request")


if __name__ == "__main__":
    main()
