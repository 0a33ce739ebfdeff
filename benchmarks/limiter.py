"""The limiter: DynamoDB round trips per request on each path (counted with a botocore event hook,
split at the model call), its in-process overhead, and exactness over HTTP against the local stack.

Target (issue 4): at most one synchronous round trip before the model call and one after.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.stubs import FakeDynamoDB

REQUESTS = 20


class RoundTrips:
    """Counts DynamoDB HTTP sends by operation, and where the model call happened."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.spans: list[list[float]] = []  # [start, end] per call, to see which ones overlap
        self.model_called_at: int | None = None
        self._lock = threading.Lock()

    def on_dynamodb(self, request: Any = None, **kwargs: Any) -> None:
        target = (
            (request.headers.get("X-Amz-Target") or b"").decode() if request is not None else ""
        )
        with self._lock:
            self.calls.append(target.rsplit(".", 1)[-1] or "?")
            self.spans.append([time.perf_counter(), float("inf")])

    def on_dynamodb_done(self, **kwargs: Any) -> None:
        with self._lock:
            open_spans = [span for span in self.spans if span[1] == float("inf")]
            if open_spans:
                open_spans[0][1] = time.perf_counter()

    def on_model(self, **kwargs: Any) -> None:
        self.model_called_at = len(self.calls)

    def watch(self) -> None:
        """Hook this process's DynamoDB client and every model endpoint's client."""
        from sparkai import aws
        from sparkai.wiring import model_endpoints

        events = aws.client("dynamodb").meta.events
        events.register("before-send.dynamodb", self.on_dynamodb)
        events.register("after-call.dynamodb", self.on_dynamodb_done)
        events.register("after-call-error.dynamodb", self.on_dynamodb_done)
        for endpoint in model_endpoints().values():
            endpoint._client_factory().meta.events.register(
                "before-send.sagemaker-runtime", self.on_model
            )

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.spans.clear()
            self.model_called_at = None

    def split(self) -> tuple[list[str], list[str], int]:
        at = self.model_called_at if self.model_called_at is not None else len(self.calls)
        return self.calls[:at], self.calls[at:], sequential(self.spans[:at])


def sequential(spans: list[list[float]]) -> int:
    """How many round trips one has to wait for in a row (overlapping calls count once)."""
    depth, busy_until = 0, float("-inf")
    for start, end in sorted(spans):
        if start >= busy_until:
            depth += 1
            busy_until = end
        else:
            busy_until = max(busy_until, end)
    return depth


def _round_trips() -> None:
    from benchmarks.local_world import EXAMPLE_KEY, local_world, path_events
    from tests.support.lambda_harness import deployed

    with local_world() as world:
        admin = world.admin
        created = admin.create_key(admin.create_account("pro").account_id, secret=EXAMPLE_KEY)

        def counted(
            logical_id: str,
            event: dict[str, Any],
            trips: RoundTrips,
            environment_of: str | None = None,
        ) -> Any:
            # A fresh container of the function (as sam local invoke would run it); hook its clients.
            with deployed(logical_id, environment_of=environment_of) as call:
                trips.watch()
                for _ in range(2):  # the first call of a container also records last-used
                    trips.clear()
                    result = call(event)
                return result

        events = path_events(created.record)
        rows = []
        trips = RoundTrips()
        counted("AuthorizerFunction", events["authorizer"], trips)
        rows.append(
            (
                "API Gateway: authorizer (cached per key for the TTL)",
                trips.calls[:],
                [],
                len(trips.calls),
            )
        )
        trips = RoundTrips()
        assert counted("ChatFunction", events["api_gateway"], trips)["statusCode"] == 200
        rows.append(("API Gateway: chat function", *trips.split()))
        trips = RoundTrips()
        # The streaming function's environment (bearer mode) with the same app, via Mangum here
        # instead of the Web Adapter: the DynamoDB calls are the app's, whatever carries HTTP.
        response = counted(
            "ChatFunction", events["function_url"], trips, environment_of="ChatStreamFunction"
        )
        assert response["statusCode"] == 200, response
        rows.append(("Function URL: streaming function", *trips.split()))
    print("DynamoDB round trips per request (steady state, second request of a container):")
    print(f"  {'path':<54} {'before the model call':<44} after")
    for label, before, after, waits in rows:
        calls = ", ".join(f"{n} {op}" for op, n in Counter(before).items())
        print(
            f"  {label:<54} {f'{waits} to wait for ({calls})':<44} {len(after)} ({', '.join(after) or '-'})"
        )
    print(
        "  (+1 UpdateItem of last_used_at on the first request per key per 5 minutes per container)"
    )


def _overhead() -> None:
    from decimal import Decimal

    from sparkai.keys.records import Principal
    from sparkai.limits.limiter import DynamoDBRateLimiter
    from sparkai.plans import Limits
    from sparkai.usage.ledger import Charge

    paid = Principal("acct", "key", "pro", Limits(90, 75_000), spend_limit_usd=Decimal("100"))
    # A trial: the same write and transaction with its lifetime counter (issue 25).
    trial = Principal(
        "acct",
        "key",
        "starter",
        Limits(90, 75_000),
        spend_limit_usd=Decimal("100"),
        trial_credit_usd=Decimal("1000000"),
    )
    for label, usage_table, principal in (
        ("rate limits only", "", paid),
        ("+ spend and ledger", "usage", paid),
        ("+ spend, ledger and trial credit", "usage", trial),
    ):
        limiter = DynamoDBRateLimiter("limits", FakeDynamoDB, usage_table=usage_table)
        samples, settles = [], []
        for n in range(5000):
            start = time.perf_counter()
            reservation = limiter.reserve(principal, 1000, spend_usd=Decimal("0.0003"))
            middle = time.perf_counter()
            charge = Charge(
                f"chat-{n}", "acct", "key", "spark-1", "2026-11-26", 100, 200, Decimal("0.0003")
            )
            limiter.settle(reservation, 300, served=True, charge=charge if usage_table else None)
            end = time.perf_counter()
            samples.append((end - start) * 1e6)
            settles.append((end - middle) * 1e6)
        print(
            f"in-process limiter overhead ({label}; reserve + settle, DynamoDB stubbed): median "
            f"{statistics.median(samples):.0f} us, p99 {sorted(samples)[int(len(samples) * 0.99)]:.0f} us; "
            f"settle alone median {statistics.median(settles):.0f} us"
        )


def _exactness_over_http() -> None:
    import httpx

    from sparkai.plans import Limits
    from sparkai_local.aws_server import local_admin
    from sparkai_local.stack import StackConfig, free_port, running

    with running(StackConfig(model="scripted", port=free_port())) as stack:
        admin = local_admin(stack.aws_url)
        limit, attempts = 50, 80
        key = admin.create_key(
            admin.create_account("enterprise", limits=Limits(limit, 10**9)).account_id
        ).secret
        start = threading.Barrier(16)

        def fire(n: int) -> list[int]:
            with httpx.Client(timeout=60) as http:
                start.wait()
                return [
                    http.post(
                        f"{stack.api_url}/v1/chat",
                        json={"model": "spark-1", "messages": [{"role": "user", "content": "hi"}]},
                        headers={"Authorization": f"Bearer {key}"},
                    ).status_code
                    for _ in range(n)
                ]

        began = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            statuses = [s for batch in pool.map(fire, [attempts // 16] * 16) for s in batch]
        elapsed = time.perf_counter() - began
    counts = Counter(statuses)
    print(
        f"exactness over HTTP against the local stack: {attempts} simultaneous requests from 16 clients, "
        f"limit {limit}/min -> {counts[200]} x 200, {counts[429]} x 429 in {elapsed:.1f} s "
        f"({'exact' if counts[200] == limit else 'NOT exact'})"
    )


def main() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    _round_trips()
    _overhead()
    _exactness_over_http()


if __name__ == "__main__":
    main()
