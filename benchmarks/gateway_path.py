"""Chat behind API Gateway, before and after response streaming (issue 13).

Before: POST /v1/chat went to ChatFunction (FastAPI under Mangum, buffered): a stream: true answer
reached the client in one body, so its first byte came when the model's last token did. After:
the route goes to GatewayStreamFunction (the same app under uvicorn, behind the Lambda Web Adapter,
identity from the forwarded authorizer context). Measured here, on this machine:

- cold start: Mangum's `import app` in a fresh interpreter, versus the Web Adapter function's
  uvicorn process from exec to a ready /healthz (what the adapter polls, every 10 ms, before the
  first invocation). The Lambda Web Adapter binary itself (a Rust extension) is not included.
- time to first byte and total, stream: true, a scripted model sending 50 chunks 20 ms apart,
  DynamoDB as round trips to the local moto server: direct boto3 to the model, the Mangum handler
  (first byte = whole body), and the adapter path (events/chat_stream/apigw-stream.json relayed as
  the adapter relays it). API Gateway's and Lambda's own hops are not on this machine.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from benchmarks.streaming import CHUNKS, DELAY, direct, median_ms, time_sse
from sparkai.catalog import MODELS
from sparkai_local.sagemaker import Script, ScriptedBackend
from sparkai_local.sagemaker import create_app as create_sagemaker_app

ROOT = Path(__file__).resolve().parents[1]
RUNS, COLD_RUNS = 11, 7
EVENTS = ROOT / "events"


def _fresh_env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'layers/sparkai'}:{ROOT / 'functions/chat'}",
        "SPARKAI_KEYS_TABLE": "keys",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


def cold_mangum_import() -> float:
    script = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
    out = subprocess.run(
        [sys.executable, "-c", script], env=_fresh_env(), cwd="/", capture_output=True, text=True
    )
    return float(out.stdout.strip().splitlines()[-1]) * 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cold_adapter_ready() -> float:
    """exec of uvicorn (as run.sh does) to the first 200 from /healthz, polled every 10 ms."""
    port = _free_port()
    env = {**_fresh_env(), "SPARKAI_AUTH_MODE": "adapter", "SPARKAI_RATE_LIMITS_TABLE": "limits"}
    start = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "sparkai.api.app:app",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return (time.perf_counter() - start) * 1000
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
    finally:
        process.terminate()
        process.wait(10)


def _stream_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def mangum_buffered(handler: object) -> tuple[float, float]:
    event = _stream_event("chat/post-chat-stream.json")
    body = json.loads(event["body"])
    event["body"] = json.dumps({**body, "max_tokens": 64})
    start = time.perf_counter()
    response = handler(event, _Context())  # type: ignore[operator]
    elapsed = time.perf_counter() - start
    assert response["statusCode"] == 200, response
    return elapsed, elapsed  # one body: the first byte leaves with the last


class _Context:
    function_name = "ChatFunction"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ChatFunction"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def adapter_streamed(url: str, client: httpx.Client) -> tuple[float, float]:
    from tests.support.adapter_relay import relay

    event = _stream_event("chat_stream/apigw-stream.json")
    event["body"] = json.dumps({**json.loads(event["body"]), "max_tokens": 64})
    relayed = relay(event)
    return time_sse(
        lambda: client.stream(
            relayed.method, url + relayed.path, headers=relayed.headers, content=relayed.body
        )
    )


def main() -> None:
    os.environ.update(POWERTOOLS_LOG_LEVEL="WARNING")
    mangum_cold = statistics.median(cold_mangum_import() for _ in range(COLD_RUNS))
    adapter_cold = statistics.median(cold_adapter_ready() for _ in range(COLD_RUNS))

    from mangum import Mangum

    from sparkai import aws
    from sparkai.api import dependencies
    from sparkai.api.app import create_app
    from sparkai.config import clear_settings_cache
    from sparkai_local.aws_server import provisioned_server
    from sparkai_local.endpoint import table_environment
    from tests.support.servers import serve

    backend = ScriptedBackend(
        endpoints=MODELS,
        default=Script(chunks=[f" w{i}" for i in range(CHUNKS)], delay_seconds=DELAY),
    )
    results: dict[str, tuple[float, float]] = {}
    with provisioned_server() as aws_server, serve(create_sagemaker_app(backend)) as sagemaker_url:
        os.environ.update(
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL_DYNAMODB=aws_server.url,
            AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=sagemaker_url,
            **table_environment(),
        )
        direct(sagemaker_url)
        results["direct boto3 -> local SageMaker"] = median_ms(
            [direct(sagemaker_url) for _ in range(RUNS)]
        )
        for mode in ("authorizer", "adapter"):
            os.environ["SPARKAI_AUTH_MODE"] = mode
            clear_settings_cache()
            dependencies.reset()
            aws.reset_clients()
            if mode == "authorizer":
                handler = Mangum(create_app(), lifespan="off")
                mangum_buffered(handler)
                results["before: Mangum, buffered (stream: true)"] = median_ms(
                    [mangum_buffered(handler) for _ in range(RUNS)]
                )
            else:
                with serve(create_app()) as url, httpx.Client(timeout=30) as client:
                    adapter_streamed(url, client)
                    results["after: Web Adapter path, streamed"] = median_ms(
                        [adapter_streamed(url, client) for _ in range(RUNS)]
                    )

    print(f"cold start (median of {COLD_RUNS} fresh processes)")
    print(f"  before: Mangum function, import app            {mangum_cold:7.1f} ms")
    print(f"  after:  Web Adapter function, uvicorn to ready  {adapter_cold:7.1f} ms")
    print(
        f"  added by the streaming function                 {adapter_cold - mangum_cold:+7.1f} ms"
    )
    base_first = results["direct boto3 -> local SageMaker"][0]
    print(f"\nstream: true, {CHUNKS} chunks every {DELAY * 1000:.0f} ms; median of {RUNS}")
    print(f"  {'path':<44} {'first byte':>11} {'added':>9} {'total':>10}")
    for label, (first, total) in results.items():
        print(f"  {label:<44} {first:9.1f}ms {first - base_first:+8.1f}ms {total:8.1f}ms")


if __name__ == "__main__":
    main()
