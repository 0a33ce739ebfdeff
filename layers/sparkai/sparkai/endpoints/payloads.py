"""The container contract: the OpenAI-style `messages` payload that TGI, vLLM and DJL-LMI accept
on /invocations, and the shapes they answer with (buffered JSON, SSE, or JSON lines)."""

from __future__ import annotations

import json
import re
from typing import Any

from sparkai.endpoints.container_errors import failed
from sparkai.endpoints.port import (
    GenerationRequest,
    Message,
    ModelDelta,
    ModelReply,
    TokenUsage,
    ToolCall,
    ToolCallDelta,
)
from sparkai.errors import ModelEndpointError, SparkAIError

# A UTF-16 surrogate on its own: what `json.loads` makes of a `\ud83d` escape (a container that
# escapes non-ASCII and cut an emoji's pair between tokens) or of CESU-style bytes (it decodes
# with surrogatepass). No UTF-8 body can carry one, so it would fail our answer mid-stream.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _loads(raw: bytes) -> Any:
    """Container JSON with every lone surrogate replaced by U+FFFD, as a UTF-8 decoder would:
    the one place container output becomes text, buffered or streamed, content, tool calls and
    all, so the client always gets a well-formed answer (billing counts the container's tokens)."""
    return _mend(json.loads(raw))


def _mend(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_mend(k): _mend(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mend(v) for v in value]
    return value


def build_payload(request: GenerationRequest) -> dict[str, Any]:
    """The /invocations body for `request` (optional fields only when set, as containers differ
    in what they accept)."""
    payload: dict[str, Any] = {
        "messages": [_message(m) for m in request.messages],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stream": request.stream,
    }
    if request.top_p is not None:
        payload["top_p"] = request.top_p
    if request.stop:
        payload["stop"] = list(request.stop)
    if request.stream:
        # continuous_usage_stats (a vLLM extension; LMI 0.33 hands a `messages` body to vLLM's
        # ChatCompletionRequest whole): every chunk carries the running count, so a stream that
        # ends early is billed the model's own count of what it generated, not a guess.
        payload["stream_options"] = {"include_usage": True, "continuous_usage_stats": True}
    _structured(request, payload)
    return payload


def _message(message: Message) -> dict[str, Any]:
    """OpenAI's message JSON: an assistant's tool calls, a tool result's call id."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["content"] = message.content or None
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def _structured(request: GenerationRequest, payload: dict[str, Any]) -> None:
    """Tools, tool choice and response format in OpenAI's shapes: vLLM's OpenAI server turns a
    forced call or a schema into guided decoding and parses Qwen's <tool_call> output (hermes)."""
    if request.tools:
        payload["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    **({"description": tool.description} if tool.description else {}),
                    "parameters": dict(tool.parameters or {"type": "object", "properties": {}}),
                    **({"strict": True} if tool.strict else {}),
                },
            }
            for tool in request.tools
        ]
        if request.tool_choice_function is not None:
            payload["tool_choice"] = {
                "type": "function",
                "function": {"name": request.tool_choice_function},
            }
        elif request.tool_choice is not None:
            payload["tool_choice"] = request.tool_choice
        if request.parallel_tool_calls is not None:
            payload["parallel_tool_calls"] = request.parallel_tool_calls
    format_ = request.response_format
    if format_ is not None:
        if format_.type == "json_schema":
            spec: dict[str, Any] = {"name": format_.name, "schema": dict(format_.schema or {})}
            if format_.description:
                spec["description"] = format_.description
            if format_.strict:
                spec["strict"] = True
            payload["response_format"] = {"type": "json_schema", "json_schema": spec}
        else:
            payload["response_format"] = {"type": format_.type}
    for name in ("seed", "presence_penalty", "frequency_penalty"):
        value = getattr(request, name)
        if value is not None:
            payload[name] = value


def _arguments(value: Any) -> str:
    """A call's arguments as JSON text (some containers send the object itself)."""
    if isinstance(value, str):
        return value
    return json.dumps(value if value is not None else {}, ensure_ascii=False)


def _tool_calls(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    calls = message.get("tool_calls")
    if not isinstance(calls, list):
        return ()
    out = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise ModelEndpointError("The model returned a tool call without a function name.")
        out.append(
            ToolCall(
                str(call.get("id") or ""), function["name"], _arguments(function.get("arguments"))
            )
        )
    return tuple(out)


def _tool_call_deltas(delta: dict[str, Any]) -> tuple[ToolCallDelta, ...]:
    calls = delta.get("tool_calls")
    if not isinstance(calls, list):
        return ()
    out = []
    for position, call in enumerate(calls):
        if not isinstance(call, dict):
            continue
        function = call.get("function")
        if not isinstance(function, dict):
            function = {}
        index = call.get("index")
        arguments = function.get("arguments")
        out.append(
            ToolCallDelta(
                index=index if isinstance(index, int) else position,
                id=call.get("id") or None,
                name=function.get("name") or None,
                arguments=_arguments(arguments) if arguments is not None else "",
            )
        )
    return tuple(out)


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
        data = _loads(body)
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
            tool_calls = _tool_calls(choice["message"])
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ModelEndpointError("The model returned a completion without a message.") from exc
        return ModelReply(
            content, choice.get("finish_reason") or "stop", _usage(data.get("usage")), tool_calls
        )
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
        if not isinstance(delta, dict):
            delta = {}
        return ModelDelta(
            content=delta.get("content") or "",
            finish_reason=choice.get("finish_reason"),
            usage=usage,
            tool_calls=_tool_call_deltas(delta),
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
            event = _loads(line)
        except ValueError as exc:
            raise ModelEndpointError("The model sent a malformed stream event.") from exc
        return event if isinstance(event, dict) else None
