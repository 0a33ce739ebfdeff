"""Tool calling and structured outputs end to end in one process: the real app under uvicorn, the
official `openai` client and plain HTTP, the local SageMaker runtime with the scripted model (which
answers like vLLM's hermes tool parser), DynamoDB from moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest

from sparkai.api.app import create_app
from sparkai.chat.schema_subset import MAX_SCHEMA_BYTES, MAX_TOOLS
from sparkai_local.sagemaker import Script
from tests.conftest import KeyFactory
from tests.support.fixtures_servers import SageMakerServer
from tests.support.servers import serve

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather now in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
ARGUMENTS = '{"city": "Paris", "unit": "c"}'
CALLING = Script(chunks=[], tool_calls=[{"name": "get_weather", "arguments": ARGUMENTS}])
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["name", "age", "tags"],
    "additionalProperties": False,
}


@dataclass
class Api:
    url: str
    key: str
    model: SageMakerServer

    def post(self, body: dict[str, Any], path: str = "/v1/chat/completions") -> httpx.Response:
        return httpx.post(
            f"{self.url}{path}",
            json={"model": "spark-1", **body},
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )

    def stream_chunks(self, body: dict[str, Any], path: str) -> list[dict[str, Any]]:
        with httpx.stream(
            "POST",
            f"{self.url}{path}",
            json={"model": "spark-1", "stream": True, **body},
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        ) as response:
            assert response.status_code == 200, response.read()
            lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
        assert lines[-1] == "[DONE]"
        return [json.loads(line) for line in lines[:-1]]

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(api_key=self.key, base_url=f"{self.url}/v1", max_retries=0)

    def sent(self) -> dict[str, Any]:
        """The payload the model container received last."""
        return self.model.backend.requests[-1]


@pytest.fixture
def api(
    moto: None,
    make_key: KeyFactory,
    sagemaker_server: SageMakerServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Api]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server.url)
    with serve(create_app()) as url:
        yield Api(url, make_key("pro").secret, sagemaker_server)


# -- the answer -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/chat", "/v1/chat/completions"])
def test_a_tool_call_comes_back_in_openai_shape(api: Api, path: str) -> None:
    api.model.backend.set_script("spark-1", CALLING)

    response = api.post({"messages": ASK, "tools": [WEATHER], "tool_choice": "required"}, path)

    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["role"] == "assistant" and message["content"] is None
    (call,) = message["tool_calls"]
    assert set(call) == {"id", "type", "function"} and call["id"]
    assert call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": ARGUMENTS}


def test_an_answer_without_calls_has_no_tool_calls_field(api: Api) -> None:
    response = api.post({"messages": ASK, "tools": [WEATHER]})
    message = response.json()["choices"][0]["message"]
    assert "tool_calls" not in message and message["content"].startswith("Hello!")


def test_the_openai_client_reads_the_call(api: Api) -> None:
    api.model.backend.set_script("spark-1", CALLING)
    completion = api.client().chat.completions.create(
        model="spark-1",
        messages=ASK,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "c"}  # type: ignore[union-attr]
    assert completion.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("path", ["/v1/chat", "/v1/chat/completions"])
def test_a_streamed_call_sends_id_and_name_first_then_argument_pieces(api: Api, path: str) -> None:
    api.model.backend.set_script("spark-1", CALLING)

    chunks = api.stream_chunks({"messages": ASK, "tools": [WEATHER]}, path)

    pieces = [
        c["choices"][0]["delta"]["tool_calls"]
        for c in chunks
        if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    first, *rest = [p for (p,) in pieces]
    assert first["index"] == 0 and first["id"] and first["type"] == "function"
    assert first["function"] == {"name": "get_weather", "arguments": ""}
    assert len(rest) > 1  # the arguments arrive in pieces
    assert all(
        set(p) == {"index", "function"} and set(p["function"]) == {"arguments"} for p in rest
    )
    assert "".join(p["function"]["arguments"] for p in rest) == ARGUMENTS
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finish[-1] == "tool_calls"


def test_the_openai_client_assembles_streamed_calls(api: Api) -> None:
    api.model.backend.set_script("spark-1", CALLING)
    calls: dict[int, dict[str, str]] = {}
    with api.client().chat.completions.create(
        model="spark-1",
        messages=ASK,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
        stream=True,
    ) as stream:
        for chunk in stream:
            for piece in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                call = calls.setdefault(piece.index, {"name": "", "arguments": ""})
                if piece.function and piece.function.name:
                    call["name"] = piece.function.name
                if piece.function and piece.function.arguments:
                    call["arguments"] += piece.function.arguments
    assert calls == {0: {"name": "get_weather", "arguments": ARGUMENTS}}


# -- what the container is sent ----------------------------------------------------------------------


def test_every_field_reaches_the_container_in_openai_shape(api: Api) -> None:
    history = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ARGUMENTS},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"celsius": 21}'},
    ]
    response = api.post(
        {
            "messages": history,
            "tools": [WEATHER],
            "tool_choice": "auto",
            "parallel_tool_calls": False,
            "seed": 7,
            "presence_penalty": 0.5,
            "frequency_penalty": -0.5,
            "max_completion_tokens": 33,
        }
    )

    assert response.status_code == 200, response.text
    sent = api.sent()
    assert sent["messages"][1:] == history[1:]
    assert sent["tools"] == [WEATHER]
    assert sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is False
    assert (sent["seed"], sent["presence_penalty"], sent["frequency_penalty"]) == (7, 0.5, -0.5)
    assert sent["max_tokens"] == 33  # max_completion_tokens is the same limit


def test_a_named_choice_and_a_schema_format_reach_the_container(api: Api) -> None:
    format_ = {
        "type": "json_schema",
        "json_schema": {"name": "person", "schema": PERSON, "strict": True},
    }
    api.post(
        {
            "messages": ASK,
            "tools": [WEATHER],
            "response_format": format_,
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        }
    )
    sent = api.sent()
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["response_format"] == format_
    # The schema is said to the model too (a prompt it reads, counts and is charged for).
    assert sent["messages"][0]["role"] == "system"
    assert json.dumps(PERSON, separators=(",", ":")) in sent["messages"][0]["content"]


def test_a_plain_request_sends_no_new_fields(api: Api) -> None:
    api.post({"messages": ASK})
    assert not {"tools", "tool_choice", "response_format", "seed"} & set(api.sent())
    assert api.sent()["messages"] == ASK


# -- metering ----------------------------------------------------------------------------------------


def test_tool_definitions_are_reserved_as_prompt_tokens(api: Api, make_key: KeyFactory) -> None:
    # Given two fresh keys and the same request but for the tools
    tools = [WEATHER] * 1 + [
        {**WEATHER, "function": {**WEATHER["function"], "name": f"tool_{i}"}} for i in range(20)
    ]
    remaining = {}
    for label, extra in (("plain", {}), ("tools", {"tools": tools})):
        api.key = make_key("pro").secret
        response = api.post({"messages": ASK, "max_tokens": 10, **extra})
        remaining[label] = int(response.headers["x-ratelimit-remaining-tokens"])
    # Then the tools' JSON (about 3 bytes a token) was reserved as prompt
    tools_bytes = sum(len(json.dumps(t)) for t in tools)
    assert remaining["plain"] - remaining["tools"] >= tools_bytes // 4


def test_the_idempotency_fingerprint_covers_tools(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.key}", "Idempotency-Key": "tools-1"}
    body = {"model": "spark-1", "messages": ASK, "tools": [WEATHER]}
    first = httpx.post(f"{api.url}/v1/chat/completions", json=body, headers=headers)
    assert first.status_code == 200
    other_tool = {**WEATHER, "function": {**WEATHER["function"], "description": "changed"}}
    second = httpx.post(
        f"{api.url}/v1/chat/completions", json={**body, "tools": [other_tool]}, headers=headers
    )
    assert second.status_code == 422
    assert second.json()["error"]["code"] == "idempotency_key_reused"


# -- bad input is a 400 naming the field ---------------------------------------------------------------


def _tool(parameters: dict[str, Any], strict: bool = True, name: str = "f") -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "parameters": parameters, "strict": strict},
    }


def _obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


BAD_REQUESTS = [
    (
        {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
        "tool_choice.function.name",
        "'nope'",
    ),
    ({"tool_choice": "required"}, "tool_choice", "'tools' is empty"),
    ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice", "'auto'"),
    (
        {"tools": [_tool(_obj(x={"type": "string", "pattern": "^a$"}))]},
        "tools[0].function.parameters",
        "'pattern'",
    ),
    (
        {"tools": [_tool(_obj(x={"type": "integer", "minimum": 1}))]},
        "tools[0].function.parameters",
        "'minimum'",
    ),
    (
        {"tools": [_tool(_obj(x={"oneOf": [{"type": "string"}]}))]},
        "tools[0].function.parameters",
        "'oneOf'",
    ),
    (
        {"tools": [_tool(_obj(x={"type": "string", "format": "email"}))]},
        "tools[0].function.parameters",
        "email",
    ),
    (
        {"tools": [_tool(_obj(x={"$ref": "https://example.com/s.json"}))]},
        "tools[0].function.parameters",
        "$defs",
    ),
    (
        {"tools": [_tool(_obj(x={"type": "integer", "enum": ["a"]}))]},
        "tools[0].function.parameters",
        "type",
    ),
    # a non-strict tool is checked once a call to it is forced
    (
        {"tools": [_tool(_obj(x={"not": {}}), strict=False)], "tool_choice": "required"},
        "tools[0].function.parameters",
        "'not'",
    ),
    (
        {"tools": [_tool({"type": "object"}, name=f"f{i}") for i in range(MAX_TOOLS + 1)]},
        "tools",
        str(MAX_TOOLS),
    ),
    (
        {
            "tools": [
                _tool(
                    _obj(
                        **{
                            f"p{i}": {"type": "string", "description": "x" * 100}
                            for i in range(MAX_SCHEMA_BYTES // 100)
                        }
                    )
                )
            ]
        },
        "tools[0].function.parameters",
        f"{MAX_SCHEMA_BYTES:,}",
    ),
    (
        {"tools": [_tool({"type": "object"}), _tool({"type": "object"})]},
        "tools[1].function.name",
        "unique",
    ),
    ({"tools": [_tool({"type": "object"}, name="has space")]}, "tools[0].function.name", "pattern"),
    (
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"type": "object", "allOf": []}},
            }
        },
        "response_format.json_schema.schema",
        "'allOf'",
    ),
    ({"response_format": {"type": "xml"}}, "response_format", "xml"),
    (
        {"messages": [*ASK, {"role": "tool", "tool_call_id": "call_9", "content": "21"}]},
        "messages[1].tool_call_id",
        "call_9",
    ),
    ({"messages": [*ASK, {"role": "tool", "content": "21"}]}, "messages[1]", "tool_call_id"),
    ({"messages": [{"role": "assistant", "content": None}]}, "messages[0]", "content"),
    ({"max_completion_tokens": 10**7}, "max_completion_tokens", "at most"),
    ({"presence_penalty": 3}, "presence_penalty", "2"),
]


@pytest.mark.parametrize(("body", "param", "words"), BAD_REQUESTS)
@pytest.mark.parametrize("stream", [False, True])
def test_bad_input_is_a_400_naming_the_field(
    api: Api, body: dict[str, Any], param: str, words: str, stream: bool
) -> None:
    response = api.post({"messages": ASK, **body, "stream": stream})

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert words in error["message"]
    assert api.model.backend.invocations == {}  # refused before the model
