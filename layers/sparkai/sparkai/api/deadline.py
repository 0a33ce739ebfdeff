"""When a stream must end: before the function carrying it is killed, so it is settled and metered.

Under Mangum (API Gateway -> Lambda) the Lambda context is in the ASGI scope and says how long the
invocation has left. Under the Web Adapter there is no context object; the adapter's
x-amzn-lambda-context header is not used because a client can send one too, so the budget is a
setting (SPARKAI_STREAM_DEADLINE_SECONDS, the function's Timeout minus a margin, in template.yaml)
counted from the request's arrival.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.requests import Request

from sparkai.config import get_chat_settings


def stream_deadline(request: Request, clock: Callable[[], float] = time.time) -> float | None:
    """Epoch seconds at which a stream answering `request` must end, or None for no deadline."""
    settings = get_chat_settings()
    context = request.scope.get("aws.context")
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        return clock() + float(remaining()) / 1000 - settings.stream_deadline_margin_seconds
    if settings.stream_deadline_seconds > 0:
        return clock() + settings.stream_deadline_seconds
    return None
