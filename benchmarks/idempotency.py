"""What an Idempotency-Key costs: DynamoDB calls per chat request, and how many of them one has to
wait for, with and without the header (first run, replay; buffered and streamed), counted with the
limiter benchmark's botocore hooks against the local stack's DynamoDB; and the added latency.

Target (issue 11): the claim overlaps the reservation, so the wait before the model stays one
round trip; the answer is recorded after the model.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections import Counter
from typing import Any

from benchmarks.limiter import RoundTrips, sequential

HELLO = {"model": "spark-1", "messages": [{"role": "user", "content": "Hello, how are you?"}]}
SAMPLES = 40


def _settle(trips: RoundTrips) -> None:
    """Wait until no DynamoDB call is in flight or about to start (a stream records its answer
    after [DONE] has been sent, so the client can be done before the server is)."""
    stable_since, seen = time.perf_counter(), len(trips.calls)
    while time.perf_counter() - stable_since < 0.3:
        time.sleep(0.02)
        if len(trips.calls) != seen or any(s[1] == float("inf") for s in trips.spans):
            stable_since, seen = time.perf_counter(), len(trips.calls)


def main() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    import httpx

    from sparkai import aws
    from sparkai.api.app import create_app
    from sparkai.catalog import MODELS
    from sparkai.plans import Limits
    from sparkai.wiring import model_endpoints
    from sparkai_local.aws_server import LOCAL_TABLES, LocalAwsServer, local_admin, provision
    from sparkai_local.sagemaker import ScriptedBackend
    from sparkai_local.sagemaker import create_app as sagemaker_app
    from tests.support.servers import serve

    server = LocalAwsServer().start()
    provision(server.url)
    admin = local_admin(server.url)
    account = admin.create_account("enterprise", limits=Limits(100_000, 10**9))
    key = admin.create_key(account.account_id).secret
    with serve(sagemaker_app(ScriptedBackend(endpoints=MODELS))) as sagemaker_url:
        os.environ.update(
            AWS_ENDPOINT_URL_DYNAMODB=server.url,
            AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=sagemaker_url,
            SPARKAI_AUTH_MODE="bearer",
            **{
                "SPARKAI_" + env: LOCAL_TABLES[logical]
                for env, logical in (
                    ("KEYS_TABLE", "ApiKeysTable"),
                    ("ACCOUNTS_TABLE", "AccountsTable"),
                    ("RATE_LIMITS_TABLE", "RateLimitsTable"),
                    ("USAGE_TABLE", "UsageTable"),
                    ("IDEMPOTENCY_TABLE", "IdempotencyTable"),
                )
                if logical in LOCAL_TABLES
            },
        )
        trips = RoundTrips()
        with serve(create_app()) as url, httpx.Client(base_url=url, timeout=30) as http:

            def post(body: dict[str, Any], idem: str | None) -> httpx.Response:
                headers = {"Authorization": f"Bearer {key}"}
                if idem:
                    headers["Idempotency-Key"] = idem
                response = http.post("/v1/chat", json=body, headers=headers)
                assert response.status_code == 200, response.text
                return response

            post(HELLO, None)  # warm: clients, the key's last-used, the authenticator's memo
            events = aws.client("dynamodb").meta.events
            events.register("before-send.dynamodb", trips.on_dynamodb)
            events.register("after-call.dynamodb", trips.on_dynamodb_done)
            events.register("after-call-error.dynamodb", trips.on_dynamodb_done)
            for endpoint in model_endpoints().values():
                endpoint._client_factory().meta.events.register(
                    "before-send.sagemaker-runtime", trips.on_model
                )

            rows = []

            def measure(label: str, body: dict[str, Any], idem: str | None) -> None:
                trips.calls.clear()
                trips.spans.clear()
                trips.model_called_at = None
                post(body, idem)
                _settle(trips)
                before, after, waits = trips.split()
                after_waits = sequential(trips.spans[len(before) :])
                rows.append((label, before, after, waits, after_waits))

            streamed = {**HELLO, "stream": True}
            measure("buffered, no Idempotency-Key", HELLO, None)
            measure("buffered, with a key (first run)", HELLO, "bench-1")
            measure("buffered, with a key (replay)", HELLO, "bench-1")
            measure("streamed, no Idempotency-Key", streamed, None)
            measure("streamed, with a key (first run)", streamed, "bench-2")
            measure("streamed, with a key (replay)", streamed, "bench-2")

            latency: dict[str, list[float]] = {"without": [], "with": [], "replay": []}
            for _ in range(SAMPLES):
                for label, idem in (
                    ("without", None),
                    ("with", "bench-" + uuid.uuid4().hex),
                ):
                    began = time.perf_counter()
                    post(HELLO, idem)
                    latency[label].append((time.perf_counter() - began) * 1000)
                began = time.perf_counter()
                post(HELLO, "bench-1")
                latency["replay"].append((time.perf_counter() - began) * 1000)
    server.stop()

    print("DynamoDB calls per chat request (Function URL path, warm key; local moto server):")
    print(f"  {'request':<36} {'before the model call':<58} after")
    for label, before, after, waits, after_waits in rows:
        calls = ", ".join(f"{n} {op}" for op, n in Counter(before).items()) or "-"
        print(
            f"  {label:<36} {f'{len(before)} calls, {waits} to wait for ({calls})':<58} "
            f"{len(after)} calls, {after_waits} to wait for ({', '.join(after) or '-'})"
        )
    print(
        "  (a replay makes no model call: its calls are all 'before'; its reservation is given "
        "back, so it is never charged)"
    )
    print(
        f"buffered latency through the whole local stack, median of {SAMPLES}: "
        f"no key {statistics.median(latency['without']):.1f} ms, "
        f"with a key {statistics.median(latency['with']):.1f} ms, "
        f"replay {statistics.median(latency['replay']):.1f} ms"
    )


if __name__ == "__main__":
    main()
