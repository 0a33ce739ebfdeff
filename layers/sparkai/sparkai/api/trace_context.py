"""Where the X-Ray SDK keeps a request's open trace entities: one store per request, carried by
contextvars. Imported only when tracing is on (sparkai.api.tracing), so nothing else pays for the
X-Ray SDK's import.

Why not the SDK's own contexts: its default Context is thread-local, its AsyncContext task-local,
and its LambdaContext reads `_X_AMZN_TRACE_ID` from the process environment. Here one request's
work spans the event loop's task and the worker threads that run boto3 (anyio copies the
request's contextvars into them), several requests share the process under uvicorn, and the Web
Adapter's uvicorn process has no per-invocation `_X_AMZN_TRACE_ID` at all. A contextvar holds
exactly "this request", wherever its code runs.
"""

from __future__ import annotations

import contextvars
from types import SimpleNamespace
from typing import Any

from aws_xray_sdk.core.context import Context  # type: ignore[import-untyped]
from aws_xray_sdk.core.models.facade_segment import (  # type: ignore[import-untyped]
    FacadeSegment,
)
from aws_xray_sdk.core.models.trace_header import TraceHeader  # type: ignore[import-untyped]

_store: contextvars.ContextVar[SimpleNamespace | None] = contextvars.ContextVar(
    "sparkai_xray_entities", default=None
)


class RequestContext(Context):  # type: ignore[misc]
    """The SDK's Context with its storage per request instead of per thread. Outside a request
    (nothing opened) every call finds no entity and is left untraced: context_missing IGNORE."""

    def __init__(self) -> None:
        super().__init__(context_missing="IGNORE_ERROR")

    @property
    def _local(self) -> SimpleNamespace:
        store = _store.get()
        if store is None:  # outside a request: a throwaway, so nothing leaks into the next one
            store = SimpleNamespace()
        return store

    @_local.setter
    def _local(self, value: Any) -> None:  # Context.__init__ assigns a threading.local; unused
        pass


def open_request(trace_header: str | None) -> contextvars.Token[SimpleNamespace | None] | None:
    """Make the Lambda invocation's segment (named by `trace_header`: Root, Parent, Sampled) this
    request's parent, as the SDK does inside Lambda: a facade that is never sent itself, under
    which subsegments are streamed to the X-Ray daemon. None when the header cannot name one."""
    header = TraceHeader.from_header_str(trace_header)
    if not header.root or not header.parent or header.sampled not in (0, 1):
        return None
    facade = FacadeSegment(
        name="facade", traceid=header.root, entityid=header.parent, sampled=header.sampled == 1
    )
    return _store.set(SimpleNamespace(entities=[facade]))


def close_request(token: contextvars.Token[SimpleNamespace | None]) -> None:
    _store.reset(token)
