"""What the chat service needs from a model endpoint (the port); adapters implement it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol


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
    def invoke(self, payload: dict[str, Any]) -> ModelReply: ...

    def stream(self, payload: dict[str, Any]) -> ModelStream: ...
