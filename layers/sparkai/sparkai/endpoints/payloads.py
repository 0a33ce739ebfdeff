"""The container contract: the OpenAI-style `messages` payload that TGI, vLLM and DJL-LMI accept
on /invocations, and the shapes they answer with (buffered JSON, SSE, or JSON lines)."""

from __future__ import annotations

import json
from typing import Any

from sparkai.endpoints.container_errors import failed
from sparkai.endpoints.port import GenerationRequest, ModelDelta, ModelReply, TokenUsage
from sparkai.errors import ModelEndpointError, SparkAIError


def build_payload(request: GenerationRequest) -> dict[str, Any]:
    """The /invocations body for `request` (optional fields only when set, as containers differ
    in what they accept)."""
    payload: dict[str, Any] = {
        "messages": [m.fields() for m in request.messages],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stream": request.stream,
    }
    if request.top_p is not None:
        payload["top_p"] = request.top_p
    if request.stop:
        payload["stop"] = list(request.stop)
    if request.stream:
        payload["stream_options"] = {"include_usage": True}
    return payload


def _usage(data: dict[str, Any] | None) -> TokenUsage | None:
    if not isinstance(data, dict):
        return None
    prompt, completion = data.get("prompt_tokens"), data.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int):
        return TokenUsage(prompt, completion)
    return None


def _container_error(data: dict[str, Any]) -> SparkAIError | None:
    error = data.get("error")
    if error is None:
        return None
    message = error.get("message") if isinstance(error, dict) else str(error)
    return failed(str(message or ""))


def parse_completion(body: bytes) -> ModelReply:
    """A buffered answer: OpenAI chat.completion (TGI/vLLM/LMI messages API) or TGI/LMI
    `generated_text` (with or without TGI `details`)."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ModelEndpointError("The model returned a response that is not JSON.") from exc
    if isinstance(data, list) and data:
        data = data[0]
    if not isinstance(data, dict):
        raise ModelEndpointError("The model returned an unexpected response.")
    if (error := _container_error(data)) is not None:
        raise error
    if "choices" in data:
        try:
            choice = data["choices"][0]
            content = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ModelEndpointError("The model returned a completion without a message.") from exc
        return ModelReply(content, choice.get("finish_reason") or "stop", _usage(data.get("usage")))
    if "generated_text" in data:
        details = data.get("details") or {}
        usage = None
        if isinstance(details.get("generated_tokens"), int) and isinstance(
            details.get("prefill"), list
        ):
            usage = TokenUsage(len(details["prefill"]), details["generated_tokens"])
        return ModelReply(str(data["generated_text"]), _finish(details.get("finish_reason")), usage)
    raise ModelEndpointError("The model returned an unexpected response.")


def _finish(reason: str | None) -> str:
    # TGI says eos_token / stop_sequence / length; OpenAI says stop / length.
    if reason in (None, "eos_token", "stop_sequence", "stop"):
        return "stop"
    return reason


def delta_from_event(event: dict[str, Any]) -> ModelDelta | None:
    """One decoded stream event (OpenAI chunk, or TGI token event) as a ModelDelta."""
    if (error := _container_error(event)) is not None:
        raise error
    usage = _usage(event.get("usage"))
    choices = event.get("choices")
    if isinstance(choices, list):
        if not choices:
            return ModelDelta(usage=usage) if usage else None
        choice = choices[0] if isinstance(choices[0], dict) else {}
        delta = choice.get("delta") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        return ModelDelta(
            content=content or "", finish_reason=choice.get("finish_reason"), usage=usage
        )
    token = event.get("token")
    if isinstance(token, dict):  # TGI /generate_stream style
        details = event.get("details") or {}
        text = "" if token.get("special") else token.get("text") or ""
        reason = _finish(details.get("finish_reason")) if details else None
        tgi_usage = None
        if details and isinstance(details.get("generated_tokens"), int):
            tgi_usage = TokenUsage(0, details["generated_tokens"])
        return ModelDelta(content=text, finish_reason=reason, usage=usage or tgi_usage)
    return None


class PayloadPartDecoder:
    """Reassembles stream events from PayloadPart bytes, however the parts split them.

    Understands SSE (`data: {...}` lines, comments, `[DONE]`, as TGI and vLLM send) and JSON lines
    (one object per line, as DJL-LMI sends). Parts may split a line, or a UTF-8 character, anywhere;
    empty parts are keep-alives.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self.done = False

    def feed(self, part: bytes) -> list[dict[str, Any]]:
        if not part:
            return []
        self._buffer += part
        *lines, self._buffer = self._buffer.split(b"\n")
        return [event for line in lines if (event := self._line(line)) is not None]

    def finish(self) -> list[dict[str, Any]]:
        rest, self._buffer = self._buffer, b""
        event = self._line(rest)
        return [event] if event is not None else []

    def _line(self, raw: bytes) -> dict[str, Any] | None:
        line = raw.strip()
        if not line or line.startswith(b":") or self.done:
            return None
        if line.startswith(b"data:"):
            line = line[5:].strip()
            if line == b"[DONE]":
                self.done = True
                return None
        elif line.startswith((b"event:", b"id:", b"retry:")):
            return None
        try:
            event = json.loads(line)
        except ValueError as exc:
            raise ModelEndpointError("The model sent a malformed stream event.") from exc
        return event if isinstance(event, dict) else None
