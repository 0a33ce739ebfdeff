"""Whole tool calls from streamed pieces, the way OpenAI streams them: per call `index`, a first
piece with the call's `id` and `function.name`, then `function.arguments` in pieces."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._types import ChatCompletionChunk, FunctionCall, ToolCall

__all__ = ["ToolCallAccumulator"]


@dataclass
class _Partial:
    id: str = ""
    type: str = "function"
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCallAccumulator:
    """Feed it every chunk of a stream (`add`); `tool_calls` are the calls so far, in index order.

    `stream.get_final_completion()` uses one, so most code needs only that; use it directly to act
    on calls while still relaying text. An id or name replaces the one before (they arrive whole);
    argument pieces are joined."""

    def __init__(self, choice_index: int = 0) -> None:
        self._choice = choice_index
        self._calls: dict[int, _Partial] = {}

    def add(self, chunk: ChatCompletionChunk) -> None:
        for choice in chunk.choices:
            if choice.index != self._choice:
                continue
            for piece in choice.delta.tool_calls or []:
                call = self._calls.setdefault(piece.index, _Partial())
                call.id = piece.id or call.id
                call.type = piece.type or call.type
                if piece.function is not None:
                    call.name = piece.function.name or call.name
                    if piece.function.arguments:
                        call.arguments.append(piece.function.arguments)

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [
            ToolCall(id=c.id, type=c.type, function=FunctionCall(c.name, "".join(c.arguments)))
            for _, c in sorted(self._calls.items())
        ]
