"""What the chat service needs from a model endpoint (the port); adapters implement it.

The port speaks the domain: a GenerationRequest in, a ModelReply or ModelDeltas out. Only an
adapter knows the JSON its container expects (SageMaker's: `endpoints/payloads.py`), so a second
backend needs no change to the chat service.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Message:
    """One chat message as the model sees it (content already joined from text parts)."""

    role: str
    content: str
    name: str | None = None

    def fields(self) -> dict[str, str]:
        """Every field the model reads, by name (what token counting counts)."""
        out = {"role": self.role, "content": self.content}
        if self.name:
            out["name"] = self.name
        return out


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate: the conversation and the sampling parameters, validated already."""

    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class ModelReply:
    content: str
    finish_reason: str
    usage: TokenUsage | None  # None when the container does not report counts


@dataclass(frozen=True)
class ModelDelta:
    """One streamed piece: some text, and/or the finish reason, and/or the final usage."""

    content: str = ""
    finish_reason: str | None = None
    usage: TokenUsage | None = None


class ModelStream(Protocol):
    def __iter__(self) -> Iterator[ModelDelta]: ...

    def close(self) -> None:
        """Stop reading and release the connection; safe to call from another thread, twice."""


class ModelEndpoint(Protocol):
    def invoke(self, request: GenerationRequest) -> ModelReply: ...

    def stream(self, request: GenerationRequest) -> ModelStream: ...
