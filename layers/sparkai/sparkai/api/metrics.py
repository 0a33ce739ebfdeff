"""Per-request CloudWatch metrics as one EMF log line (Powertools EphemeralMetrics): model, plan,
status class, latency, time to first token, prompt/completion tokens, 5xx, limiter and model errors.

Dimensions are only values we chose (a catalog model id, a plan id, a status class), never what a
client typed: no key, no prompt, no account id, and no unbounded cardinality. Only chat requests
whose body named a known model are measured; API Gateway's own metrics count everything else.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sparkai.catalog import MODELS
from sparkai.observability import NAMESPACE, SERVICE, SERVICE_DIMENSIONS, write_emf

MODEL_ERROR_CODES = frozenset({"model_error", "model_unavailable", "model_timeout"})
LIMITER_ERROR_CODES = frozenset({"rate_limiter_unavailable"})
# The coarse set alarms and the dashboard read (template.yaml); the full set adds plan and status.
ALARM_DIMENSIONS = ["service", "model"]
# Failure counts are also rolled up per service: one alarm each, whichever model failed.
FAILURE_COUNTS = ("ServerErrors", "ModelErrors", "LimiterUnavailable")


@dataclass
class RequestMetrics:
    """What one request learned about itself; filled by the routes, emitted by the middleware."""

    started: float
    model: str | None = None
    plan: str | None = None
    status: int | None = None
    error_code: str | None = None
    first_token_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def note_usage(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens


def request_metrics(request: Request) -> RequestMetrics:
    """This request's metrics (a detached one if the app runs without the middleware)."""
    state = request.scope.setdefault("state", {})
    metrics = state.get("metrics")
    if not isinstance(metrics, RequestMetrics):
        metrics = state["metrics"] = RequestMetrics(started=time.perf_counter())
    return metrics


def status_class(status: int | None) -> str:
    return f"{(status or 500) // 100}xx"


def emf_document(metrics: RequestMetrics, latency_ms: float) -> dict[str, Any] | None:
    """The EMF JSON for one finished request, or None when it is not a measured chat request."""
    if metrics.model not in MODELS:
        return None
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit  # api layer only

    emf = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    emf.add_dimension("model", metrics.model)
    emf.add_dimension("plan", metrics.plan or "unknown")
    emf.add_dimension("status_class", status_class(metrics.status))
    emf.add_metric("Requests", MetricUnit.Count, 1)
    emf.add_metric("Latency", MetricUnit.Milliseconds, round(latency_ms, 3))
    if metrics.first_token_ms is not None:
        emf.add_metric(
            "TimeToFirstToken", MetricUnit.Milliseconds, round(metrics.first_token_ms, 3)
        )
    if metrics.prompt_tokens is not None:
        emf.add_metric("PromptTokens", MetricUnit.Count, metrics.prompt_tokens)
        emf.add_metric("CompletionTokens", MetricUnit.Count, metrics.completion_tokens or 0)
    # Any 5xx answer (a bug, a fault): what a deploy of the streaming functions rolls back on.
    emf.add_metric("ServerErrors", MetricUnit.Count, int((metrics.status or 500) >= 500))
    emf.add_metric("ModelErrors", MetricUnit.Count, int(metrics.error_code in MODEL_ERROR_CODES))
    emf.add_metric(
        "LimiterUnavailable", MetricUnit.Count, int(metrics.error_code in LIMITER_ERROR_CODES)
    )
    document: dict[str, Any] = dict(emf.serialize_metric_set())
    # Powertools writes one dimension set (all of them); alarms need the per-model roll-up too.
    directives = document["_aws"]["CloudWatchMetrics"]
    directives[0]["Dimensions"].append(ALARM_DIMENSIONS)
    # A second directive over the same values: the failure counts by service alone (not every
    # metric: each dimension set of each metric is a custom metric, billed per month).
    directives.append(
        {
            "Namespace": NAMESPACE,
            "Dimensions": [SERVICE_DIMENSIONS],
            "Metrics": [m for m in directives[0]["Metrics"] if m["Name"] in FAILURE_COUNTS],
        }
    )
    if metrics.error_code:  # a documented code (never a message), searchable in Logs Insights
        document["error_code"] = metrics.error_code
    return document


class MetricsMiddleware:
    """Pure ASGI (streams pass through untouched): times the request, notes the status and, for
    5xx answers, the documented error code; emits one EMF line when the response is over."""

    def __init__(
        self,
        app: ASGIApp,
        clock: Callable[[], float] = time.perf_counter,
        sink: Callable[[str], None] = write_emf,
    ) -> None:
        self.app = app
        self.clock = clock
        self.sink = sink

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics = RequestMetrics(started=self.clock())
        scope.setdefault("state", {})["metrics"] = metrics
        error_body = bytearray()

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                metrics.status = message["status"]
            elif message["type"] == "http.response.body" and (metrics.status or 0) >= 500:
                error_body.extend(message.get("body", b"")[:4096])
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            if metrics.error_code is None and error_body:
                metrics.error_code = _error_code(bytes(error_body))
            document = emf_document(metrics, (self.clock() - metrics.started) * 1000)
            if document is not None:
                self.sink(json.dumps(document, separators=(",", ":")))


def _error_code(body: bytes) -> str | None:
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


async def observe_stream(
    request: Request, events: AsyncGenerator[str, None], usage: Callable[[], Any]
) -> AsyncIterator[str]:
    """Relays the SSE payloads, noting when the first content arrives, a mid-stream error's code,
    and (once the stream is closed and settled) the tokens it used."""
    metrics = request_metrics(request)
    clock = time.perf_counter
    try:
        async for data in events:
            if metrics.first_token_ms is None and '"delta":{"content":' in data:
                metrics.first_token_ms = (clock() - metrics.started) * 1000
            elif data.startswith('{"error":'):
                metrics.error_code = _error_code(data.encode())
            yield data
    finally:
        # Close the inner generator now (it closes the model stream and settles usage), not
        # whenever it is garbage collected: a client that left must still be charged promptly.
        with anyio.CancelScope(shield=True):
            await events.aclose()
        used = usage()
        metrics.note_usage(used.prompt_tokens, used.completion_tokens)
