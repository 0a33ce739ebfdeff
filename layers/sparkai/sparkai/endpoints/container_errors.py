"""What a container's error text may tell a client: only that the prompt did not fit, and the
window's size. Everything else in it (model ids, paths, stack traces, hosts, ARNs) stays in our
logs: TGI, vLLM and DJL-LMI put all of that in their messages."""

from __future__ import annotations

import json
import re

from sparkai.errors import (
    ContextLengthExceededError,
    InvalidRequestError,
    ModelEndpointError,
    SparkAIError,
)
from sparkai.observability import logger

# TGI: "`inputs` tokens + `max_new_tokens` must be <= 4096"; vLLM: "maximum context length is
# 32768 tokens"; vLLM/LMI: "longer than the maximum model length of 32768"; LMI: "exceeds max
# model len 4096".
_CONTEXT = re.compile(
    r"context length|context window|max_model_len|maximum model length|max model len"
    r"|max_new_tokens|max_total_tokens|prompt is too long|input is too long|too long",
    re.IGNORECASE,
)
_WINDOW = re.compile(
    r"(?:maximum context length is|must be <=|maximum model length(?: of| is)?"
    r"|max model len(?:gth)?(?: of| is)?|max_total_tokens(?: of| is|:)?)\s*(\d{3,7})",
    re.IGNORECASE,
)
MAX_LOGGED = 500


def detail_of(text: str) -> str:
    """The message inside a container's error body (JSON or plain text)."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict):
        inner = data.get("error") or data.get("message") or data.get("detail") or text
        if isinstance(inner, dict):
            inner = inner.get("message") or ""
        return str(inner)
    return text


def context_error(detail: str) -> ContextLengthExceededError | None:
    """A clean context-length error if `detail` says the prompt did not fit, else None."""
    if not _CONTEXT.search(detail):
        return None
    window = _WINDOW.search(detail)
    size = f" of {int(window.group(1)):,} tokens" if window else ""
    return ContextLengthExceededError(
        f"The messages plus max_tokens do not fit the model's context window{size}. "
        "Shorten the messages or lower max_tokens."
    )


def rejected(detail: str, endpoint_name: str) -> SparkAIError:
    """A container's 4xx: the caller's request, explained without the container's words."""
    _log(detail, endpoint_name)
    return context_error(detail) or InvalidRequestError(
        "The model rejected the request's parameters. Check max_tokens, stop and temperature."
    )


def failed(detail: str, endpoint_name: str = "") -> SparkAIError:
    """An error the container reported in a 200 body or a stream event."""
    _log(detail, endpoint_name)
    return context_error(detail) or ModelEndpointError("The model failed to produce an answer.")


def _log(detail: str, endpoint_name: str) -> None:
    logger.warning(
        "model.container_error",
        extra={"endpoint": endpoint_name, "detail": detail[:MAX_LOGGED]},
    )
