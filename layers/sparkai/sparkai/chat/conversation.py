"""What the model is sent and what it answered, for tool calling and structured outputs: the
conversation with the schema instruction, the texts counted as prompt (tool definitions
included), and the answer's tool calls in OpenAI's shape."""

from __future__ import annotations

import uuid

from sparkai.chat.schemas import AssistantMessage, ChatRequest
from sparkai.chat.structured import (
    TOOLS_TEMPLATE_BYTES,
    FunctionCall,
    ToolCallOut,
    ToolChoice,
    schema_instruction,
    tools_prompt_text,
)
from sparkai.chat.tokens import prompt_token_bound
from sparkai.endpoints.port import FunctionTool, Message, ResponseFormat, ToolCall


def new_tool_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def prompt_texts(
    conversation: tuple[Message, ...], tools: tuple[FunctionTool, ...]
) -> tuple[list[dict[str, str]], int]:
    """Every text the model reads, for the token estimate, and the prompt's upper bound for the
    spend reservation: the template renders each tool definition, so they are prompt tokens."""
    messages = [m.fields() for m in conversation]
    bound = prompt_token_bound(messages)
    if tools:
        tools_text = tools_prompt_text(tools)
        messages.append({"role": "system", "content": tools_text})
        bound += len(tools_text.encode()) + TOOLS_TEMPLATE_BYTES
    return messages, bound


def choice_mode(choice: ToolChoice | None) -> str | None:
    if choice is None or isinstance(choice, str):
        return choice
    return "required"  # a named function: a call is required, and it is that one


def model_conversation(request: ChatRequest, format_: ResponseFormat | None) -> tuple[Message, ...]:
    """The messages the model is sent: the client's, and for a structured answer the schema
    instruction in the system message (first, merged with the client's own if it sent one)."""
    messages = [m.as_message() for m in request.messages]
    if format_ is None:
        return tuple(messages)
    instruction = schema_instruction(format_)
    if messages and messages[0].role == "system":
        first = messages[0]
        messages[0] = Message("system", f"{first.content}\n\n{instruction}", first.name)
    else:
        messages.insert(0, Message("system", instruction))
    return tuple(messages)


def assistant_message(content: str, tool_calls: tuple[ToolCall, ...]) -> AssistantMessage:
    if not tool_calls:
        return AssistantMessage(content=content)
    return AssistantMessage(
        content=content or None,
        tool_calls=[
            ToolCallOut(
                id=call.id or new_tool_call_id(),
                function=FunctionCall(name=call.name, arguments=call.arguments),
            )
            for call in tool_calls
        ],
    )
