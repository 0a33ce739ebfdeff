"""Tool calling and structured outputs: typed request fields, tool calls in answers and streams
(assembled from their pieces), and chat.parse() with a pydantic model."""

from __future__ import annotations

import asyncio
import json
from enum import Enum
from typing import Any, Optional

import pytest

from sparkaistream import (
    ChatMessage,
    FunctionCall,
    LengthFinishReasonError,
    ParsedFunctionCall,
    ToolCall,
    ToolCallAccumulator,
    ToolParam,
    to_strict_json_schema,
)

from _support import (
    USER_HELLO,
    Script,
    chunk_json,
    completion_json,
    json_response,
    make_async_client,
    make_client,
    sse,
    stream_response,
)

pydantic = pytest.importorskip("pydantic")

WEATHER: ToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


def tool_call_answer(*calls: dict[str, Any]) -> dict[str, Any]:
    body = completion_json()
    body["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "tool_calls": list(calls),
    }
    body["choices"][0]["finish_reason"] = "tool_calls"
    return body


def call(index: int, name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": f"call_{index}",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def test_a_tool_round_trip_is_sent_in_openai_shapes() -> None:
    script = Script(json_response(tool_call_answer(call(1, "get_weather", '{"city":"Paris"}'))))
    client, _ = make_client(script)
    first = client.chat.create(
        model="spark-1", messages=USER_HELLO, tools=[WEATHER], tool_choice="required", seed=3
    )
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert message.content is None
    assert message.tool_calls == [
        ToolCall("call_1", FunctionCall("get_weather", '{"city":"Paris"}'))
    ]
    # The answer goes back into the history as it came, followed by the tool's result
    script.steps.append(json_response(completion_json("It is 21 °C in Paris.")))
    history = [
        *USER_HELLO,
        message,
        ChatMessage("tool", '{"temperature_c": 21}', tool_call_id="call_1"),
    ]
    final = client.chat.create(model="spark-1", messages=history, tools=[WEATHER])
    assert final.choices[0].message.content == "It is 21 °C in Paris."
    assert script.body(0)["tool_choice"] == "required" and script.body(0)["seed"] == 3
    assert script.body(1)["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call(1, "get_weather", '{"city":"Paris"}')],
        },
        {"role": "tool", "content": '{"temperature_c": 21}', "tool_call_id": "call_1"},
    ]


def streamed_calls() -> bytes:
    def pieces(index: int, *delta: dict[str, Any]) -> list[dict[str, Any]]:
        return [chunk_json({"tool_calls": [{"index": index, **d}]}) for d in delta]

    return sse(
        chunk_json({"role": "assistant", "content": None}),
        *pieces(
            0,
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            },
        ),
        *pieces(1, {"id": "call_b", "type": "function", "function": {"name": "get_time"}}),
        *pieces(0, {"function": {"arguments": '{"city":'}}, {"function": {"arguments": '"Oslo"}'}}),
        *pieces(1, {"function": {"arguments": "{}"}}),
        chunk_json({}, finish_reason="tool_calls"),
        chunk_json(usage={"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}),
    )


def test_streamed_tool_call_pieces_assemble_into_whole_calls() -> None:
    script = Script(stream_response(streamed_calls()))
    client, _ = make_client(script)
    accumulator = ToolCallAccumulator()
    with client.chat.create(
        model="spark-1", messages=USER_HELLO, tools=[WEATHER], stream=True
    ) as stream:
        for chunk in stream:
            accumulator.add(chunk)
        final = stream.get_final_completion()
    expected = [
        ToolCall("call_a", FunctionCall("get_weather", '{"city":"Oslo"}')),
        ToolCall("call_b", FunctionCall("get_time", "{}")),
    ]
    assert accumulator.tool_calls == expected
    assert final.choices[0].message.tool_calls == expected
    assert final.choices[0].message.content is None  # as in the buffered answer
    assert final.choices[0].finish_reason == "tool_calls"


class Unit(str, Enum):
    c = "c"
    f = "f"


class Reading(pydantic.BaseModel):  # type: ignore[misc, name-defined]
    value: int
    unit: Unit


class Weather(pydantic.BaseModel):  # type: ignore[misc, name-defined]
    city: str
    readings: list[Reading]
    note: Optional[str] = None  # noqa: UP045 - pydantic evaluates it, and 3.9 has no `X | None`


def test_parse_sends_a_strict_schema_and_returns_the_model() -> None:
    content = '{"city":"Paris","readings":[{"value":21,"unit":"c"}],"note":null}'
    script = Script(json_response(completion_json(content)))
    client, _ = make_client(script)
    completion = client.chat.parse(model="spark-1", messages=USER_HELLO, response_format=Weather)
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Weather)
    assert parsed == Weather(city="Paris", readings=[Reading(value=21, unit=Unit.c)])
    assert completion.choices[0].message.content == content
    sent = script.body()["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "Weather" and sent["json_schema"]["strict"] is True
    schema = sent["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["city", "readings", "note"]  # every property, as strict needs
    assert schema["$defs"]["Reading"]["additionalProperties"] is False
    assert "default" not in schema["properties"]["note"]


def test_our_strict_schema_is_the_official_clients() -> None:
    official = pytest.importorskip("openai.lib._pydantic")
    for model in (Weather, Reading):
        assert to_strict_json_schema(model.model_json_schema()) == official.to_strict_json_schema(
            model
        )


def test_parse_refuses_an_answer_cut_by_the_token_limit() -> None:
    body = completion_json('{"city":"Par')
    body["choices"][0]["finish_reason"] = "length"
    client, _ = make_client(Script(json_response(body)))
    with pytest.raises(LengthFinishReasonError) as raised:
        client.chat.parse(
            model="spark-1", messages=USER_HELLO, response_format=Weather, max_tokens=5
        )
    assert raised.value.completion.choices[0].message.content == '{"city":"Par'


def test_parse_gives_a_strict_tools_call_its_parsed_arguments() -> None:
    answer = tool_call_answer(call(1, "get_weather", '{"city":"Rome"}'))
    script = Script(json_response(answer))
    client, _ = make_client(script)
    completion = client.chat.parse(
        model="spark-1",
        messages=USER_HELLO,
        response_format={"type": "json_object"},
        tools=[WEATHER],
    )
    calls = completion.choices[0].message.tool_calls or []
    assert isinstance(calls[0].function, ParsedFunctionCall)
    assert calls[0].function.parsed_arguments == {"city": "Rome"}
    assert completion.choices[0].message.parsed is None
    assert script.body()["response_format"] == {"type": "json_object"}


def test_async_parse() -> None:
    script = Script(json_response(completion_json(json.dumps({"value": 3, "unit": "f"}))))
    client, _ = make_async_client(script)
    completion = asyncio.run(
        client.chat.parse(model="spark-1", messages=USER_HELLO, response_format=Reading)
    )
    assert completion.choices[0].message.parsed == Reading(value=3, unit=Unit.f)


def test_parse_refuses_a_class_that_is_not_a_pydantic_model() -> None:
    client, _ = make_client(Script())
    with pytest.raises(TypeError, match="pydantic BaseModel"):
        client.chat.parse(model="spark-1", messages=USER_HELLO, response_format=dict)  # type: ignore[arg-type]
