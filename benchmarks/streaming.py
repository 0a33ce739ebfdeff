"""Streaming overhead: time to first byte and total duration through the streaming app (FastAPI
under uvicorn, the same as the Function URL runs) versus reading the local SageMaker runtime
directly with boto3, with a model emitting a chunk every 20 ms.

Budget (issue 3): added time to first byte <= 5 ms; total duration within 5% of direct.
Two app variants: DynamoDB stubbed in memory (the app's own overhead), and DynamoDB as real round
trips to the local moto server (key check + reservation before the first byte, as in AWS).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import boto3
import httpx
from botocore.config import Config

from benchmarks.stubs import FakeDynamoDB
from sparkai.catalog import MODELS
from sparkai_local.sagemaker import Script, ScriptedBackend
from sparkai_local.sagemaker import create_app as create_sagemaker_app

CHUNKS, DELAY, RUNS = 50, 0.020, 15
PAYLOAD = {
    "messages": [{"role": "user", "content": "Hello"}],
    "max_tokens": 64,
    "temperature": 0.7,
    "stream": True,
}


def direct(url: str) -> tuple[float, float]:
    client = boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}),
    )
    start = time.perf_counter()
    response = client.invoke_endpoint_with_response_stream(
        EndpointName="spark-1", Body=json.dumps(PAYLOAD), ContentType="application/json"
    )
    first = None
    for event in response["Body"]:
        if "PayloadPart" in event and first is None:
            first = time.perf_counter() - start
    return first or 0.0, time.perf_counter() - start


HTTP = httpx.Client(timeout=30)  # one client, as boto3's: connection set-up is not what is measured


def time_sse(
    open_stream: Callable[[], AbstractContextManager[httpx.Response]],
) -> tuple[float, float]:
    """Seconds to an event stream's first `data:` line and to its end."""
    start = time.perf_counter()
    first = None
    with open_stream() as response:
        for line in response.iter_lines():
            if first is None and line.startswith("data: "):
                first = time.perf_counter() - start
    return first or 0.0, time.perf_counter() - start


def through_app(url: str, key: str) -> tuple[float, float]:
    body = {"model": "spark-1", "messages": PAYLOAD["messages"], "max_tokens": 64, "stream": True}
    return time_sse(
        lambda: HTTP.stream(
            "POST", f"{url}/v1/chat", json=body, headers={"Authorization": f"Bearer {key}"}
        )
    )


def median_ms(samples: list[tuple[float, float]]) -> tuple[float, float]:
    """Median (first byte, total) in milliseconds."""
    return (
        statistics.median(s[0] for s in samples) * 1000,
        statistics.median(s[1] for s in samples) * 1000,
    )


def main() -> None:
    os.environ.update(POWERTOOLS_LOG_LEVEL="WARNING")  # before the logger is created
    from sparkai import aws
    from sparkai.api import dependencies
    from sparkai.api.app import create_app
    from sparkai.config import clear_settings_cache
    from sparkai.plans import Limits
    from sparkai_local.aws_server import local_admin, provisioned_server
    from sparkai_local.endpoint import LOCAL_TABLES
    from tests.support.servers import serve

    backend = ScriptedBackend(
        endpoints=MODELS,
        default=Script(chunks=[f" w{i}" for i in range(CHUNKS)], delay_seconds=DELAY),
    )
    with provisioned_server() as aws_server, serve(create_sagemaker_app(backend)) as sagemaker_url:
        os.environ.update(
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL_DYNAMODB=aws_server.url,
            AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=sagemaker_url,
            SPARKAI_KEYS_TABLE=LOCAL_TABLES["ApiKeysTable"],
            SPARKAI_RATE_LIMITS_TABLE=LOCAL_TABLES["RateLimitsTable"],
        )
        admin = local_admin(aws_server.url)
        key = admin.create_key(
            admin.create_account("enterprise", limits=Limits(100_000, 10**9)).account_id
        ).secret

        direct(sagemaker_url)
        results = {
            "direct boto3 -> local SageMaker": median_ms(
                [direct(sagemaker_url) for _ in range(RUNS)]
            )
        }
        for label, stub in (
            ("app, DynamoDB stubbed in memory", True),
            ("app, DynamoDB round trips to local moto", False),
        ):
            clear_settings_cache()
            dependencies.reset()
            aws.reset_clients()
            if stub:
                fake = FakeDynamoDB()
                from benchmarks.stubs import KEY_ITEM
                from sparkai.keys.material import hash_key

                KEY_ITEM["key_hash"] = {"S": hash_key(key)}
                aws.set_client("dynamodb", fake)
            with serve(create_app()) as api_url:
                through_app(api_url, key)
                results[label] = median_ms([through_app(api_url, key) for _ in range(RUNS)])

    base_first, base_total = results["direct boto3 -> local SageMaker"]
    print(f"{CHUNKS} chunks, one every {DELAY * 1000:.0f} ms; median of {RUNS} streams")
    print(
        f"  {'path':<42} {'first byte':>11} {'added':>8} {'total':>10} {'vs direct':>10} {'per chunk':>10}"
    )
    for label, (first, total) in results.items():
        per_chunk = (total - first - (base_total - base_first)) / CHUNKS
        print(
            f"  {label:<42} {first:9.1f}ms {first - base_first:+7.1f}ms {total:8.1f}ms "
            f"{100 * (total / base_total - 1):+9.2f}% {per_chunk:+8.2f}ms"
        )
    print("budgets: added first byte <= 5 ms; total within 5% of direct")


if __name__ == "__main__":
    main()
