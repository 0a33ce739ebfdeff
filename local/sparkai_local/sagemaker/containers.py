"""What serving containers put on the wire: OpenAI chat.completion(.chunk) shapes, and how TGI/vLLM
(SSE) and DJL-LMI (JSON lines) frame a stream of chunks into PayloadPart bytes."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

Style = Literal["tgi", "lmi"]
STYLES: tuple[Style, ...] = ("tgi", "lmi")


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def wants_usage(request: dict[str, Any]) -> bool:
    """Whether the request asked for the final usage chunk (OpenAI stream_options.include_usage)."""
    options = request.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def wants_running_usage(request: dict[str, Any]) -> bool:
    """Whether every chunk should carry the running usage, as vLLM does for
    stream_options {include_usage: true, continuous_usage_stats: true} (its
    chat_completion_stream_generator: completion_tokens counts every token generated so far,
    including those whose text is still an incomplete character and goes out as "")."""
    options = request.get("stream_options")
    return wants_usage(request) and bool(
        isinstance(options, dict) and options.get("continuous_usage_stats")
    )


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def chunk(
    chunk_id: str,
    model: str,
    *,
    content: str | None = None,
    role: str | None = None,
    finish_reason: str | None = None,
    created: int | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    running_usage: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """One `chat.completion.chunk` with a single choice; with `running_usage` (prompt, completion
    so far) the usage vLLM's continuous_usage_stats puts on it."""
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    body: dict[str, Any] = {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": created if created is not None else int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if running_usage is not None:
        body["usage"] = usage(*running_usage)
    return body


def usage_chunk(
    chunk_id: str, model: str, prompt_tokens: int, completion_tokens: int
) -> dict[str, Any]:
    """The last chunk vLLM and TGI send when include_usage is on: no choices, just usage."""
    return {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": usage(prompt_tokens, completion_tokens),
    }


def completion(
    model: str,
    content: str | None,
    *,
    finish_reason: str,
    prompt_tokens: int,
    completion_tokens: int,
    response_id: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A buffered OpenAI `chat.completion` answer, with usage (and tool calls, as vLLM's parser
    returns them: content null when there is no text besides)."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": response_id or completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage(prompt_tokens, completion_tokens),
    }


def encode_chunk(event: dict[str, Any], style: Style) -> bytes:
    """One chunk as the container frames it: an SSE `data:` event (TGI, vLLM) or a JSON line (LMI)."""
    text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    if style == "lmi":
        return f"{text}\n".encode()
    return f"data: {text}\n\n".encode()


def end_of_stream(style: Style) -> bytes:
    """What follows the last chunk: SSE streams end with `[DONE]`; JSON lines just stop."""
    return b"data: [DONE]\n\n" if style == "tgi" else b""
