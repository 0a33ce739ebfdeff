"""Typed response objects, parsed leniently from the API's JSON (unknown fields are ignored)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Union

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "Choice",
    "ChoiceDelta",
    "ChunkChoice",
    "FunctionCall",
    "FunctionCallDelta",
    "MessageParam",
    "Model",
    "ModelList",
    "ModelPricing",
    "RateLimitInfo",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "parse_duration",
]


def _str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    return value if isinstance(value, str) else default


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _int(data: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


@dataclass
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        return cls(
            prompt_tokens=_int(data, "prompt_tokens"),
            completion_tokens=_int(data, "completion_tokens"),
            total_tokens=_int(data, "total_tokens"),
        )


@dataclass
class FunctionCall:
    """The function a tool call names, and its arguments as the JSON text the model wrote
    (`json.loads(arguments)`; with a strict tool the server guarantees it parses and validates)."""

    name: str
    arguments: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}


@dataclass
class ToolCall:
    """One entry of `message.tool_calls`: `{id, type: "function", function: {name, arguments}}`."""

    id: str
    function: FunctionCall
    type: str = "function"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        function = _mapping(data.get("function"))
        return cls(
            id=_str(data, "id"),
            type=_str(data, "type", "function"),
            function=FunctionCall(_str(function, "name"), _str(function, "arguments")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "function": self.function.to_dict()}


def _tool_calls(value: Any) -> list[ToolCall] | None:
    return (
        [ToolCall.from_dict(call) for call in _mappings(value)] if isinstance(value, list) else None
    )


@dataclass
class ChatMessage:
    """A chat message; also accepted (like a plain dict) in `messages=`. An assistant message that
    calls tools has `tool_calls` and `content` None; a `role="tool"` message answers the call
    whose id is its `tool_call_id`."""

    role: str
    content: str | None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChatMessage:
        return cls(
            role=_str(data, "role", "assistant"),
            # null stays None (a tool-calling answer); an absent field reads as "".
            content=None
            if "content" in data and data["content"] is None
            else _str(data, "content"),
            name=_opt_str(data, "name"),
            tool_calls=_tool_calls(data.get("tool_calls")),
            tool_call_id=_opt_str(data, "tool_call_id"),
        )

    def to_dict(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name is not None:
            message["name"] = self.name
        if self.tool_calls is not None:
            message["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message


# What `messages=` accepts: {"role": ..., "content": ...} mappings or ChatMessage objects.
MessageParam = Union[Mapping[str, Any], ChatMessage]


@dataclass
class Choice:
    index: int
    message: ChatMessage
    finish_reason: str | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Choice:
        return cls(
            index=_int(data, "index"),
            message=ChatMessage.from_dict(_mapping(data.get("message"))),
            finish_reason=_opt_str(data, "finish_reason"),
        )


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|h|m|s)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str | None) -> float | None:
    """A reset duration as seconds: "20ms" -> 0.02, "1.5s" -> 1.5, "6m0s" -> 360.0, "7" -> 7.0."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    total, position = 0.0, 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    return total if position == len(text) else None


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class RateLimitInfo:
    """The x-ratelimit-* headers of an answer. Reset values are in seconds."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo | None:
        """None when the answer carries no rate-limit headers at all."""
        info = cls(
            limit_requests=_header_int(headers, "x-ratelimit-limit-requests"),
            remaining_requests=_header_int(headers, "x-ratelimit-remaining-requests"),
            reset_requests=parse_duration(headers.get("x-ratelimit-reset-requests")),
            limit_tokens=_header_int(headers, "x-ratelimit-limit-tokens"),
            remaining_tokens=_header_int(headers, "x-ratelimit-remaining-tokens"),
            reset_tokens=parse_duration(headers.get("x-ratelimit-reset-tokens")),
        )
        return None if info == cls() else info


@dataclass
class ChatCompletion:
    """A buffered answer of POST /v1/chat."""

    id: str
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None
    object: str = "chat.completion"
    request_id: str | None = field(default=None, compare=False)
    rate_limit: RateLimitInfo | None = field(default=None, compare=False)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        request_id: str | None = None,
        rate_limit: RateLimitInfo | None = None,
    ) -> ChatCompletion:
        usage = data.get("usage")
        return cls(
            id=_str(data, "id"),
            object=_str(data, "object", "chat.completion"),
            created=_int(data, "created"),
            model=_str(data, "model"),
            choices=[Choice.from_dict(choice) for choice in _mappings(data.get("choices"))],
            usage=Usage.from_dict(usage) if isinstance(usage, Mapping) else None,
            request_id=request_id,
            rate_limit=rate_limit,
        )


@dataclass
class FunctionCallDelta:
    name: str | None = None
    arguments: str | None = None


@dataclass
class ToolCallDelta:
    """A piece of a streamed tool call: the first piece of call `index` carries its `id` and
    `function.name`, later ones pieces of `function.arguments` (ToolCallAccumulator joins them)."""

    index: int
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCallDelta:
        function = data.get("function")
        return cls(
            index=_int(data, "index"),
            id=_opt_str(data, "id"),
            type=_opt_str(data, "type"),
            function=FunctionCallDelta(_opt_str(function, "name"), _opt_str(function, "arguments"))
            if isinstance(function, Mapping)
            else None,
        )


@dataclass
class ChoiceDelta:
    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChoiceDelta:
        calls = data.get("tool_calls")
        return cls(
            role=_opt_str(data, "role"),
            content=_opt_str(data, "content"),
            tool_calls=[ToolCallDelta.from_dict(c) for c in _mappings(calls)]
            if isinstance(calls, list)
            else None,
        )


@dataclass
class ChunkChoice:
    index: int
    delta: ChoiceDelta
    finish_reason: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChunkChoice:
        return cls(
            index=_int(data, "index"),
            delta=ChoiceDelta.from_dict(_mapping(data.get("delta"))),
            finish_reason=_opt_str(data, "finish_reason"),
        )


@dataclass
class ChatCompletionChunk:
    """One streamed event. The last chunk before [DONE] has no choices and carries .usage."""

    id: str
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    object: str = "chat.completion.chunk"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChatCompletionChunk:
        usage = data.get("usage")
        return cls(
            id=_str(data, "id"),
            object=_str(data, "object", "chat.completion.chunk"),
            created=_int(data, "created"),
            model=_str(data, "model"),
            choices=[ChunkChoice.from_dict(choice) for choice in _mappings(data.get("choices"))],
            usage=Usage.from_dict(usage) if isinstance(usage, Mapping) else None,
        )


@dataclass
class ModelPricing:
    per_1k_tokens_usd: Decimal | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelPricing:
        raw = data.get("per_1k_tokens_usd")
        try:
            price = Decimal(str(raw)) if isinstance(raw, (str, int, float)) else None
        except InvalidOperation:
            price = None
        return cls(per_1k_tokens_usd=price)


@dataclass
class Model:
    id: str
    created: int
    owned_by: str
    description: str | None = None
    context_length: int | None = None
    max_tokens: int | None = None
    pricing: ModelPricing | None = None
    object: str = "model"
    request_id: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> Model:
        pricing = data.get("pricing")
        return cls(
            id=_str(data, "id"),
            object=_str(data, "object", "model"),
            created=_int(data, "created"),
            owned_by=_str(data, "owned_by"),
            description=_opt_str(data, "description"),
            context_length=_opt_int(data, "context_length"),
            max_tokens=_opt_int(data, "max_tokens"),
            pricing=ModelPricing.from_dict(pricing) if isinstance(pricing, Mapping) else None,
            request_id=request_id,
        )


@dataclass
class ModelList:
    """GET /v1/models; iterable over its models."""

    data: list[Model]
    object: str = "list"
    request_id: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> ModelList:
        return cls(
            data=[Model.from_dict(model) for model in _mappings(data.get("data"))],
            object=_str(data, "object", "list"),
            request_id=request_id,
        )

    def __iter__(self) -> Iterator[Model]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)
