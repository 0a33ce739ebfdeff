"""Tool calling and structured outputs on the REAL local model (SmolLM2-135M under llama.cpp),
through the whole stack, with the official `openai` client: what a strict schema promises holds
even for a 135M-parameter model, because the output is decoded under a grammar."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

import jsonschema
import openai
import pytest
from pydantic import BaseModel, Field

from tests.local.conftest import RunningStack, start_stack, stop_stack

pytestmark = [pytest.mark.local, pytest.mark.slow]

# Bounded strings and arrays keep every answer well under max_tokens, so none is cut ("length").
ORDER = {
    "type": "object",
    "properties": {
        "customer": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 20},
                "tier": {"enum": ["gold", "silver", "bronze"]},
            },
            "required": ["name", "tier"],
            "additionalProperties": False,
        },
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string", "maxLength": 12},
                    "quantity": {"type": "integer"},
                },
                "required": ["sku", "quantity"],
                "additionalProperties": False,
            },
            "minItems": 1,
            "maxItems": 3,
        },
        "express": {"type": "boolean"},
    },
    "required": ["customer", "items", "express"],
    "additionalProperties": False,
}
ORDER_FORMAT: Any = {
    "type": "json_schema",
    "json_schema": {"name": "order", "schema": ORDER, "strict": True},
}
ORDER_ASK: Any = [
    {"role": "user", "content": "Ann (gold customer) orders 2 apples, express delivery."}
]
WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 30},
        "unit": {"enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": WEATHER_PARAMETERS,
        "strict": True,
    },
}
WEATHER_ASK: Any = [{"role": "user", "content": "What is the weather in Paris right now?"}]
FORCE_WEATHER: Any = {"type": "function", "function": {"name": "get_weather"}}


class City(BaseModel):
    name: str = Field(max_length=20)
    country: str = Field(max_length=20)
    population_millions: int
    kind: Literal["capital", "town"]


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    running = start_stack()  # the real model, as `make run` serves it
    yield running
    assert stop_stack(running) == 0


@pytest.fixture
def client(stack: RunningStack) -> openai.OpenAI:
    return openai.OpenAI(api_key=stack.key, base_url=f"{stack.url}/v1", max_retries=0, timeout=300)


def test_parse_with_a_pydantic_model_returns_the_object(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(
        model="spark-1",
        messages=[{"role": "user", "content": "Describe Paris."}],
        response_format=City,
        max_completion_tokens=120,
        temperature=0,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert isinstance(choice.message.parsed, City)
    assert choice.message.parsed.kind in ("capital", "town")


def test_a_strict_schema_answer_validates_buffered(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="spark-turbo",
        messages=ORDER_ASK,
        response_format=ORDER_FORMAT,
        max_completion_tokens=200,
        temperature=0,
    )
    assert completion.choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(completion.choices[0].message.content or ""), ORDER)


def test_a_strict_schema_answer_validates_streamed(client: openai.OpenAI) -> None:
    text, finish = "", None
    with client.chat.completions.create(
        model="spark-pro",
        messages=ORDER_ASK,
        response_format=ORDER_FORMAT,
        max_completion_tokens=200,
        temperature=0.8,  # sampled, not greedy: the grammar, not luck, keeps it valid
        seed=11,
        stream=True,
    ) as stream:
        for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
    assert finish == "stop"
    jsonschema.validate(json.loads(text), ORDER)


def test_a_named_tool_choice_returns_a_call_whose_arguments_validate(
    client: openai.OpenAI,
) -> None:
    completion = client.chat.completions.create(
        model="spark-1",
        messages=WEATHER_ASK,
        tools=[WEATHER],
        tool_choice=FORCE_WEATHER,
        max_completion_tokens=80,
        temperature=0,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    jsonschema.validate(json.loads(call.function.arguments), WEATHER_PARAMETERS)  # type: ignore[union-attr]


def test_streamed_tool_call_deltas_assemble_into_a_valid_call(client: openai.OpenAI) -> None:
    calls: dict[int, dict[str, str]] = {}
    finish = None
    with client.chat.completions.create(
        model="spark-1",
        messages=WEATHER_ASK,
        tools=[WEATHER],
        tool_choice="required",
        max_completion_tokens=80,
        temperature=0,
        stream=True,
    ) as stream:
        for chunk in stream:
            if not chunk.choices:
                continue
            finish = chunk.choices[0].finish_reason or finish
            for piece in chunk.choices[0].delta.tool_calls or []:
                call = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = piece.id or call["id"]
                if piece.function is not None:
                    call["name"] += piece.function.name or ""
                    call["arguments"] += piece.function.arguments or ""
    assert finish == "tool_calls"
    assert list(calls) == [0] and calls[0]["id"] and calls[0]["name"] == "get_weather"
    jsonschema.validate(json.loads(calls[0]["arguments"]), WEATHER_PARAMETERS)


def test_a_full_tool_round_trip(client: openai.OpenAI) -> None:
    # Given the model's call
    first = client.chat.completions.create(
        model="spark-1",
        messages=WEATHER_ASK,
        tools=[WEATHER],
        tool_choice="required",
        max_completion_tokens=80,
        temperature=0,
    )
    (call,) = first.choices[0].message.tool_calls or []
    # When the tool's result goes back with the history
    history: Any = [
        *WEATHER_ASK,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"celsius": 21, "sky": "sunny"}'},
    ]
    second = client.chat.completions.create(
        model="spark-1",
        messages=history,
        tools=[WEATHER],
        tool_choice="none",
        max_completion_tokens=40,
        temperature=0,
    )
    # Then the model answers in words, having read the result
    answer = second.choices[0].message
    assert not answer.tool_calls and (answer.content or "").strip()
    assert second.usage is not None and first.usage is not None
    assert second.usage.prompt_tokens > first.usage.prompt_tokens  # the call and result were read


def test_prompt_tokens_with_tools_grow_by_about_the_tools_size(client: openai.OpenAI) -> None:
    def prompt_tokens(**extra: Any) -> int:
        completion = client.chat.completions.create(
            model="spark-turbo", messages=WEATHER_ASK, max_completion_tokens=1, **extra
        )
        assert completion.usage is not None
        return completion.usage.prompt_tokens

    without = prompt_tokens()
    with_tools = prompt_tokens(tools=[WEATHER], tool_choice="none")
    tools_bytes = len(json.dumps(WEATHER))
    # The definitions (a token per ~2-4 bytes of JSON) plus the template's tool preamble
    # (~110 tokens): more than the JSON alone at 4 bytes a token, less than a token per byte.
    assert tools_bytes // 4 < with_tools - without < tools_bytes + 150
