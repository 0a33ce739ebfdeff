"""API requests per second on this machine through the local stack with the scripted (instant)
model: what the HTTP layer, key checks, limiter and boto3 cost per request when the model is free."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

CLIENTS, PER_CLIENT = 8, 60


def main() -> None:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from sparkai.plans import Limits
    from sparkai_local.aws_server import local_admin
    from sparkai_local.stack import StackConfig, free_port, running

    with running(StackConfig(model="scripted", port=free_port())) as stack:
        admin = local_admin(stack.aws_url)
        key = admin.create_key(
            admin.create_account("enterprise", limits=Limits(10**6, 10**9)).account_id
        ).secret
        headers = {"Authorization": f"Bearer {key}"}
        body = {"model": "spark-1", "messages": [{"role": "user", "content": "Hello!"}]}
        for stream in (False, True):

            def run(_: int, stream: bool = stream) -> list[float]:
                latencies = []
                with httpx.Client(timeout=60) as http:
                    for _ in range(PER_CLIENT):
                        start = time.perf_counter()
                        response = http.post(
                            f"{stack.api_url}/v1/chat",
                            json={**body, "stream": stream},
                            headers=headers,
                        )
                        assert response.status_code == 200, response.text
                        latencies.append(time.perf_counter() - start)
                return latencies

            run(0)  # warm up
            began = time.perf_counter()
            with ThreadPoolExecutor(CLIENTS) as pool:
                latencies = sorted(t for batch in pool.map(run, range(CLIENTS)) for t in batch)
            elapsed = time.perf_counter() - began
            print(
                f"  {'streamed' if stream else 'buffered'}: {len(latencies) / elapsed:6.1f} requests/s with {CLIENTS} clients "
                f"(p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms)"
            )
    print(
        f"  ({os.cpu_count()} cores shared by the API, local DynamoDB (moto), local SageMaker and the load generator)"
    )


if __name__ == "__main__":
    main()
