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

    from benchmarks.local_world import local_world
    from sparkai.api.app import create_app
    from sparkai.plans import Limits
    from tests.support.servers import serve

    with local_world() as world:
        os.environ["SPARKAI_AUTH_MODE"] = "bearer"
        account = world.admin.create_account("enterprise", limits=Limits(100_000, 10**9))
        key = world.admin.create_key(account.account_id).secret
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
            trips.watch()

            rows = []

            def measure(label: str, body: dict[str, Any], idem: str | None) -> None:
                trips.clear()
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
