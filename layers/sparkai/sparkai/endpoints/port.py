"""What the chat service needs from a model endpoint (the port); adapters implement it.

The port speaks the domain: a GenerationRequest in, a ModelReply or ModelDeltas out. Only an
adapter knows the JSON its container expects (SageMaker's: `endpoints/payloads.py`), so a second
backend needs no change to the chat service.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class ToolCall:
    """A function call the model made: `arguments` is the JSON text it wrote, as OpenAI sends it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Message:
    """One chat message as the model sees it (content already joined from text parts).

    An assistant message may carry `tool_calls` (its content then possibly empty); a `tool`
    message answers the call named by `tool_call_id`."""

    role: str
    content: str
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def fields(self) -> dict[str, str]:
        """Every field the model reads, by name, as text (what token counting counts)."""
        out = {"role": self.role, "content": self.content}
        if self.name:
            out["name"] = self.name
        if self.tool_calls:
            out["tool_calls"] = json.dumps(
                [{"name": c.name, "arguments": c.arguments} for c in self.tool_calls],
                ensure_ascii=False,
            )
        if self.tool_call_id:
            out["tool_call_id"] = self.tool_call_id
        return out


@dataclass(frozen=True)
class FunctionTool:
    """A function the model may call; `parameters` is its JSON Schema (None: no parameters).
    `strict`: its arguments are produced by constrained decoding and validate."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    strict: bool = False


@dataclass(frozen=True)
class ResponseFormat:
    """`json_object`: any JSON object; `json_schema`: JSON valid against `schema`."""

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: Mapping[str, Any] | None = None
    strict: bool = False
    description: str | None = None


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate: the conversation and the sampling parameters, validated already."""

    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False
    tools: tuple[FunctionTool, ...] = ()
    # "none" | "auto" | "required", or the name of the one function the model must call.
    tool_choice: str | None = None
    tool_choice_function: str | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class ModelReply:
    content: str
    finish_reason: str
    usage: TokenUsage | None  # None when the container does not report counts
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class ToolCallDelta:
    """One streamed piece of tool call `index`: its id and name come first, then the arguments'
    text in pieces (OpenAI's delta.tool_calls)."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True)
class ModelDelta:
    """One streamed piece: some text or tool-call pieces, and/or the finish reason, and/or the
    final usage."""

    content: str = ""
    finish_reason: str | None = None
    usage: TokenUsage | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()


class ModelStream(Protocol):
    def __iter__(self) -> Iterator[ModelDelta]: ...

    def close(self) -> None:
        """Stop reading and release the connection; safe to call from another thread, twice."""


class ModelEndpoint(Protocol):
    def invoke(self, request: GenerationRequest) -> ModelReply: ...

    def stream(self, request: GenerationRequest) -> ModelStream: ...
