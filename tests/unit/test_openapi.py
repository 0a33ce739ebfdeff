"""The OpenAPI contract: served lazily at /openapi.json, equal to docs/openapi.yaml, complete for
every public route, and its chat request schema agrees with the server's own body parsing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from fastapi.testclient import TestClient

from sparkai.api import openapi
from sparkai.api.app import create_app
from sparkai.chat.schemas import parse_chat_request
from sparkai.errors import SparkAIError

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {
    ("post", "/v1/chat"),
    ("post", "/v1/chat/completions"),
    ("get", "/v1/models"),
    ("get", "/v1/models/{model_id}"),
    ("get", "/v1/usage"),
}
CHAT_ERRORS = {"400", "401", "404", "409", "413", "422", "429", "500", "502", "503", "504"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return TestClient(create_app()).get("/openapi.json").json()


def test_docs_openapi_yaml_is_what_the_app_serves(document: dict[str, Any]) -> None:
    committed = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    assert committed == document, "docs/openapi.yaml is stale: run `make openapi`"


def test_built_on_the_first_request_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = openapi.build_openapi

    def counting(app: Any) -> dict[str, Any]:
        calls.append(1)
        return real(app)

    monkeypatch.setattr(openapi, "build_openapi", counting)
    client = TestClient(create_app())
    assert calls == []  # creating the app (a cold start) builds nothing
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    assert calls == [1]


def test_every_public_route_is_fully_described(document: dict[str, Any]) -> None:
    operations = {(method, path) for path, item in document["paths"].items() for method in item}
    assert operations >= PUBLIC
    assert "/healthz" not in document["paths"]
    for method, path in PUBLIC:
        operation = document["paths"][path][method]
        assert operation["security"] == [{"apiKey": []}]
        ok = operation["responses"]["200"]
        assert ok["headers"]["x-request-id"] == {"$ref": "#/components/headers/x-request-id"}
        assert ok["content"]["application/json"]["schema"]["$ref"].startswith(
            "#/components/schemas/"
        )
        for status, response in operation["responses"].items():
            if status != "200":
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }
                assert "x-request-id" in response["headers"]
    chat = document["paths"]["/v1/chat"]["post"]
    assert set(chat["responses"]) - {"200"} == CHAT_ERRORS
    assert "text/event-stream" in chat["responses"]["200"]["content"]
    assert set(chat["responses"]["200"]["headers"]) >= set(openapi.RATE_LIMIT_HEADERS)
    assert chat["responses"]["503"]["headers"]["retry-after"]["$ref"].endswith("retry-after")
    assert [p["name"] for p in chat["parameters"]] == ["Idempotency-Key"]
    assert chat["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ChatRequest"
    }
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKey"] == schemes["apiKey"] | {"type": "http", "scheme": "bearer"}
    for path, item in document["paths"].items():
        for operation in item.values():
            assert "422" not in operation["responses"] or path.startswith("/v1/chat")
            if path.startswith("/v1/dashboard/"):
                assert operation["security"] == [{"dashboardToken": []}]


def chat_request_validator(document: dict[str, Any]) -> jsonschema.Draft202012Validator:
    text = json.dumps(document["components"]["schemas"]).replace(
        "#/components/schemas/", "#/$defs/"
    )
    defs = json.loads(text)
    return jsonschema.Draft202012Validator({"$defs": defs, **defs["ChatRequest"]})


HELLO = [{"role": "user", "content": "Hi"}]
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
JSON_SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": True},
}


@pytest.mark.parametrize(
    "body",
    [
        {"model": "spark-1", "messages": HELLO},
        {"model": "spark-pro", "messages": HELLO, "max_tokens": 8192},
        {"model": "spark-1", "messages": HELLO, "max_tokens": 4096, "temperature": 2},
        {"model": "spark-1", "messages": HELLO, "max_tokens": None, "top_p": 1, "stop": "x"},
        {"model": "spark-1", "messages": HELLO, "stop": ["a", "b", "c", "d"], "user": "u"},
        {"model": "spark-1", "messages": HELLO, "stop": ["a", "😀" * 128]},  # at the cap
        {"model": "spark-1", "messages": HELLO, "temperature": 1, "stream": True, "n": 1},
        {"model": "spark-1", "messages": HELLO, "stream_options": {"include_usage": True}},
        {
            "model": "spark-1",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
        },
        {"model": "spark-1", "messages": HELLO, "unknown": {"ignored": True}},
        {"model": "spark-1", "messages": HELLO, "max_tokens": 64.0, "n": 1.0},  # JSON integers
        # tool calling and structured outputs
        {
            "model": "spark-1",
            "messages": [
                *HELLO,
                {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
                {"role": "tool", "tool_call_id": "call_1", "content": "21"},
            ],
            "tools": [TOOL],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "parallel_tool_calls": False,
        },
        {"model": "spark-1", "messages": HELLO, "tools": [TOOL], "tool_choice": "required"},
        {"model": "spark-1", "messages": HELLO, "response_format": {"type": "json_object"}},
        {"model": "spark-1", "messages": HELLO, "response_format": JSON_SCHEMA_FORMAT},
        {"model": "spark-1", "messages": HELLO, "seed": 3, "presence_penalty": -2},
        {"model": "spark-pro", "messages": HELLO, "max_completion_tokens": 8192},
        # invalid
        {"model": "spark-1", "messages": HELLO, "max_tokens": 4097},
        {"model": "spark-turbo", "messages": HELLO, "max_tokens": 0},
        {"model": "spark-pro", "messages": HELLO, "max_tokens": 8193},
        {"model": "spark-2", "messages": HELLO},
        {"model": "spark-1", "messages": []},
        {"model": "spark-1"},
        {"messages": HELLO},
        {"model": "spark-1", "messages": HELLO, "temperature": 2.5},
        {"model": "spark-1", "messages": HELLO, "temperature": "0.7"},
        {"model": "spark-1", "messages": HELLO, "temperature": None},
        {"model": "spark-1", "messages": HELLO, "top_p": 0},
        {"model": "spark-1", "messages": HELLO, "stop": ["a", "b", "c", "d", "e"]},
        {"model": "spark-1", "messages": HELLO, "stop": "x" * 129},
        {"model": "spark-1", "messages": HELLO, "stop": ["a", "x" * 129]},
        {"model": "spark-1", "messages": HELLO, "stream": "true"},
        {"model": "spark-1", "messages": HELLO, "stream": None},
        {"model": "spark-1", "messages": HELLO, "n": 2},
        {"model": "spark-1", "messages": HELLO, "max_tokens": True},
        {"model": "spark-1", "messages": HELLO, "max_tokens": 1.5},
        {"model": "spark-1", "messages": [{"role": "robot", "content": "x"}]},
        {"model": "spark-1", "messages": [{"role": "user"}]},
        {"model": "spark-1", "messages": [{"role": "user", "content": None}]},
        {"model": "spark-1", "messages": [{"role": "user", "content": [{"type": "image"}]}]},
        {"model": "spark-1", "messages": HELLO, "stream_options": {"include_usage": 1}},
        {"model": "spark-1", "messages": HELLO, "max_completion_tokens": 4097},
        {"model": "spark-1", "messages": [{"role": "assistant", "content": None}]},
        {"model": "spark-1", "messages": [{"role": "tool", "content": "21"}]},
        {"model": "spark-1", "messages": HELLO, "tools": [{"type": "function"}]},
        {"model": "spark-1", "messages": HELLO, "tool_choice": "sometimes"},
        {"model": "spark-1", "messages": HELLO, "response_format": {"type": "xml"}},
        {"model": "spark-1", "messages": HELLO, "response_format": {"type": "json_schema"}},
        {"model": "spark-1", "messages": HELLO, "frequency_penalty": 2.5},
        {"model": "spark-1", "messages": HELLO, "parallel_tool_calls": "yes"},
        [],
        "hello",
    ],
)
def test_the_chat_request_schema_agrees_with_the_parser(
    document: dict[str, Any], body: Any
) -> None:
    """What the schema allows the server accepts, and what it forbids the server refuses (400)."""
    valid = chat_request_validator(document).is_valid(body)
    try:
        parse_chat_request(json.dumps(body).encode())
        accepted = True
    except SparkAIError:
        accepted = False
    assert valid == accepted, f"schema says {valid}, server says {accepted}"


def test_a_405_lists_exactly_the_documented_methods(document: dict[str, Any]) -> None:
    """RFC 9110: a 405 carries `Allow`; here it names what the contract documents for the path
    (the whole API: the dashboard's routes too, as DashboardFunction serves them)."""
    client = TestClient(create_app(dashboard=True))
    for path, item in document["paths"].items():
        concrete = path.replace("{model_id}", "spark-1").replace("{key_id}", "key_x")
        response = client.request("PATCH", concrete)
        assert response.status_code == 405, path
        assert response.json()["error"]["code"] == "method_not_allowed"
        assert response.headers["allow"] == ", ".join(sorted(m.upper() for m in item)), path
