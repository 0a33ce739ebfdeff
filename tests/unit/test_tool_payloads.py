"""The container contract for tool calls: what vLLM's OpenAI server is sent and what it answers
(buffered message.tool_calls, streamed delta.tool_calls), read into the port's values."""

from __future__ import annotations

import json

from sparkai.endpoints.payloads import build_payload, delta_from_event, parse_completion
from sparkai.endpoints.port import (
    FunctionTool,
    GenerationRequest,
    Message,
    ResponseFormat,
    ToolCall,
    ToolCallDelta,
)

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_the_payload_carries_tools_choice_format_and_history() -> None:
    request = GenerationRequest(
        messages=(
            Message("user", "weather?"),
            Message("assistant", "", tool_calls=(ToolCall("c1", "weather", '{"city":"Oslo"}'),)),
            Message("tool", "-3C", tool_call_id="c1"),
        ),
        max_tokens=50,
        temperature=0.2,
        tools=(FunctionTool("weather", "Weather now", SCHEMA, strict=True),),
        tool_choice="required",
        tool_choice_function="weather",
        parallel_tool_calls=False,
        response_format=ResponseFormat("json_schema", "city", SCHEMA, strict=True),
        seed=3,
    )
    payload = build_payload(request)
    assert payload["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
            }
        ],
    }
    assert payload["messages"][2] == {"role": "tool", "content": "-3C", "tool_call_id": "c1"}
    assert payload["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather now",
                "parameters": SCHEMA,
                "strict": True,
            },
        }
    ]
    assert payload["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
    assert payload["parallel_tool_calls"] is False
    assert payload["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "city", "schema": SCHEMA, "strict": True},
    }
    assert payload["seed"] == 3 and "presence_penalty" not in payload
    json.dumps(payload)  # what goes on the wire


def test_a_buffered_answer_with_tool_calls() -> None:
    body = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "chatcmpl-tool-1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                        },
                        {
                            "id": "chatcmpl-tool-2",
                            "type": "function",
                            "function": {"name": "weather", "arguments": {"city": "Rome"}},
                        },
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 90, "completion_tokens": 20},
    }
    reply = parse_completion(json.dumps(body).encode())
    assert reply.content == "" and reply.finish_reason == "tool_calls"
    assert reply.tool_calls == (
        ToolCall("chatcmpl-tool-1", "weather", '{"city": "Oslo"}'),
        ToolCall("chatcmpl-tool-2", "weather", '{"city": "Rome"}'),  # an object becomes JSON text
    )


def test_streamed_tool_call_pieces() -> None:
    head = {
        "choices": [
            {
                "delta": {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "t1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": ""},
                        }
                    ]
                },
                "finish_reason": None,
            }
        ]
    }
    piece = {
        "choices": [
            {
                "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]},
                "finish_reason": None,
            }
        ]
    }
    assert delta_from_event(head).tool_calls == (ToolCallDelta(0, "t1", "weather", ""),)  # type: ignore[union-attr]
    assert delta_from_event(piece).tool_calls == (ToolCallDelta(0, None, None, '{"ci'),)  # type: ignore[union-attr]
