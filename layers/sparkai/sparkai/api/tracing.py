"""X-Ray subsegments for the app's AWS calls: Powertools Tracer patching botocore only, so every
DynamoDB and SageMaker call of a request (UpdateItem, TransactWriteItems, InvokeEndpoint...)
becomes a subsegment under the Lambda invocation's segment, inside one `sparkai.request`
subsegment annotated with the model, plan and status.

Off, at no cost, unless the process runs in Lambda (AWS_LAMBDA_FUNCTION_NAME and
LAMBDA_TASK_ROOT set, as Powertools itself requires) and POWERTOOLS_TRACE_DISABLED is not set:
the local stack and the tests never import the X-Ray SDK. When on, the SDK is imported and
botocore patched on the first request, never at import (the app's import is budgeted; the
authorizer never imports this module at all).

Which invocation a request belongs to:
- Mangum (ChatFunction, DashboardFunction): the runtime sets `_X_AMZN_TRACE_ID` per invocation
  in the process environment (the request carries the raw event as scope["aws.event"]).
- Web Adapter (GatewayStreamFunction, ChatStreamFunction): uvicorn is a separate process whose
  environment never changes; the adapter forwards the invocation's trace header to the app as
  `x-amzn-trace-id` (aws-lambda-web-adapter issue #312; lambda_http sets it from the runtime's
  Lambda-Runtime-Trace-Id since PR #103). A forged header can only misfile a trace, never reach
  data: segment documents carry no request content.

What a segment document may hold: operation, region, request id, table and endpoint names (the
SDK's parameter whitelist; never keys or item values), our annotations (catalog model id, plan
id, status, documented error code). Never a key, a prompt or an account id.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sparkai.catalog import MODELS

SERVICE = "sparkai-stream"
TRACE_HEADER = "x-amzn-trace-id"
LAMBDA_TRACE_ENV = "_X_AMZN_TRACE_ID"
REQUEST_SUBSEGMENT = "sparkai.request"
_TRUTHY = {"1", "y", "yes", "t", "true", "on"}  # Powertools' own reading of its flags

_lock = threading.Lock()
_state: dict[str, Any] = {}  # "recorder": the configured X-Ray recorder or None, once decided


def tracing_enabled(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in _TRUTHY:
        return False
    if env.get("AWS_SAM_LOCAL"):  # sam local: no X-Ray daemon listening
        return False
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME") and env.get("LAMBDA_TASK_ROOT"))


def recorder() -> Any | None:
    """The X-Ray recorder, configured and botocore patched on first use; None when tracing is off
    (decided once per process; reset() forgets the decision)."""
    if "recorder" in _state:
        return _state["recorder"]
    with _lock:
        if "recorder" not in _state:
            _state["recorder"] = _configure() if tracing_enabled() else None
    return _state["recorder"]


def _configure() -> Any:
    from aws_lambda_powertools import Tracer
    from aws_xray_sdk.core import xray_recorder  # type: ignore[import-untyped]

    from sparkai.api.trace_context import RequestContext

    # botocore only: the SDK's patch_all would also wrap httpx/requests and more (the model's
    # stream is read through botocore already).
    Tracer(service=SERVICE, patch_modules=["botocore"])
    xray_recorder.configure(
        service=SERVICE,
        context=RequestContext(),
        context_missing="IGNORE_ERROR",  # a call outside any request is simply not traced
        sampling=False,  # the invocation's header decides (Sampled=0/1), no sampling rules here
        streaming_threshold=0,  # send each subsegment when it closes (the facade is never sent)
    )
    return xray_recorder


def reset() -> None:
    """Decide again on the next request (tests changing the environment)."""
    with _lock:
        _state.clear()


def trace_header_for(scope: Scope) -> str | None:
    if "aws.event" in scope:  # Mangum, in the runtime's own process
        return os.environ.get(LAMBDA_TRACE_ENV)
    return Headers(scope=scope).get(TRACE_HEADER)


def request_annotations(scope: Scope, status: int | None) -> dict[str, str | int]:
    """What a request's subsegment is searchable by: only values we chose, never what the client
    typed (a model id is annotated only when it is one of ours)."""
    metrics = (scope.get("state") or {}).get("metrics")
    result: dict[str, str | int] = {"status": status or 500}
    model = getattr(metrics, "model", None)
    if model in MODELS:
        result["model"] = model
    plan = getattr(metrics, "plan", None)
    if isinstance(plan, str) and plan:
        result["plan"] = plan
    error_code = getattr(metrics, "error_code", None)
    if isinstance(error_code, str) and error_code:
        result["error_code"] = error_code
    return result


class TracingMiddleware:
    """Pure ASGI (streams pass through untouched): opens the request's subsegment under the
    invocation's segment, and closes it, annotated, when the response is over. Place it outside
    MetricsMiddleware, which fills in the model and plan it annotates."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        xray = recorder() if scope["type"] == "http" else None
        if xray is None:
            await self.app(scope, receive, send)
            return
        from sparkai.api.trace_context import close_request, open_request

        token = open_request(trace_header_for(scope))
        if token is None:  # no usable trace header: nothing to attach the calls to
            await self.app(scope, receive, send)
            return
        status: int | None = None

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        subsegment = xray.begin_subsegment(REQUEST_SUBSEGMENT)
        try:
            await self.app(scope, receive, observe)
        finally:
            try:
                if subsegment is not None:
                    for key, value in request_annotations(scope, status).items():
                        subsegment.put_annotation(key, value)
                    subsegment.apply_status_code(status or 500)
                xray.end_subsegment()
            finally:
                close_request(token)
