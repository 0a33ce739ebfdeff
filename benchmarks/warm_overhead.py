"""Warm, in-process time per request of the authorizer and the chat handler (Mangum + FastAPI),
with every AWS call answered instantly by an in-memory stub.

Budget (issue 2): <= 1 ms (authorizer) and <= 5 ms (chat) per request.
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


def _time(call: Callable[[], Any]) -> tuple[float, float, float]:
    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.fmean(samples), samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def _load(function_dir: str) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"bench_{function_dir.replace('/', '_')}", ROOT / function_dir / "app.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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

    results = {
        "authorizer (key lookup, policy)": _time(
            lambda: authorizer.lambda_handler(auth_event, Context())
        ),
        "chat via Mangum (validate, reserve, invoke, settle)": _time(
            lambda: chat.handler(chat_event, Context())
        ),
    }
    print(f"{RUNS} warm requests each, AWS stubbed in memory; mean / p50 / p99")
    for name, (mean, p50, p99) in results.items():
        print(f"  {name:<52} {mean:6.3f} / {p50:6.3f} / {p99:6.3f} ms")
    print("budgets: authorizer <= 1 ms, chat <= 5 ms per request")


if __name__ == "__main__":
    main()
