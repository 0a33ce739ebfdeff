"""Configuration, request shape, buffered parsing, models and typed errors (sync client)."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

import sparkaistream
from sparkaistream import (
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ChatCompletion,
    ChatMessage,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    SparkAI,
    SparkAIError,
    Stream,
)

from _support import (
    API_KEY,
    BASE_URL,
    RATE_HEADERS,
    REQUEST_ID,
    STREAM_URL,
    USER_HELLO,
    Script,
    chat_events,
    completion_json,
    error_response,
    json_response,
    make_client,
    sse,
    stream_response,
)

MODELS_JSON = {
    "object": "list",
    "data": [
        {
            "id": "spark-1",
            "object": "model",
            "created": 1735689600,
            "owned_by": "sparkai",
            "description": "Balanced model for most tasks",
            "context_length": 8192,
            "max_tokens": 4096,
            "pricing": {"per_1k_tokens_usd": "0.0003"},
        },
        {
            "id": "spark-pro",
            "object": "model",
            "created": 1735689600,
            "owned_by": "sparkai",
            "description": "Enhanced reasoning & analysis",
            "context_length": 16384,
            "max_tokens": 8192,
            "pricing": {"per_1k_tokens_usd": "0.0012"},
        },
    ],
}


# --- configuration -------------------------------------------------------------------------


def test_missing_api_key_is_a_clear_error_at_construction() -> None:
    with pytest.raises(SparkAIError, match="SPARKAI_API_KEY"):
        SparkAI()
    with pytest.raises(SparkAIError, match="No API key"):
        SparkAI(api_key="  ")


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKAI_API_KEY", "sk-spark-env")
    monkeypatch.setenv("SPARKAI_BASE_URL", BASE_URL + "/")
    monkeypatch.setenv("SPARKAI_STREAM_URL", STREAM_URL)
    with SparkAI() as client:
        assert client.api_key == "sk-spark-env"
        assert client.base_url == BASE_URL
        assert client.stream_url == STREAM_URL
        assert "sk-spark-env" not in repr(client)


def test_defaults_without_environment() -> None:
    with SparkAI(api_key=API_KEY) as client:
        assert client.base_url == "https://api.sparkaistream.com"
        assert client.stream_url == "https://api.sparkaistream.com"
        assert client.max_retries == 2
        assert client.timeout == 60.0


def test_stream_url_defaults_to_the_base_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPARKAI_BASE_URL", "http://127.0.0.1:3000")
    with SparkAI(api_key=API_KEY) as client:
        assert client.stream_url == "http://127.0.0.1:3000"


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKAI_API_KEY", "sk-spark-env")
    monkeypatch.setenv("SPARKAI_BASE_URL", BASE_URL)
    monkeypatch.setenv("SPARKAI_STREAM_URL", STREAM_URL)
    with SparkAI(api_key="sk-spark-arg", base_url="http://127.0.0.1:3000") as client:
        assert client.api_key == "sk-spark-arg"
        # An explicit base_url also serves streams: the environment's stream URL is not mixed in.
        assert client.base_url == client.stream_url == "http://127.0.0.1:3000"


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_max_retries_must_be_a_non_negative_int(bad: object) -> None:
    with pytest.raises(ValueError, match="max_retries"):
        SparkAI(api_key=API_KEY, max_retries=bad)  # type: ignore[arg-type]


def test_urls_must_be_http() -> None:
    with pytest.raises(ValueError, match="base_url"):
        SparkAI(api_key=API_KEY, base_url="ftp://example.com")


def test_close_leaves_a_caller_owned_http_client_open() -> None:
    http = httpx.Client()
    SparkAI(api_key=API_KEY, http_client=http).close()
    assert not http.is_closed
    http.close()
    own = SparkAI(api_key=API_KEY)
    own.close()
    assert own._http.is_closed


# --- request shape -------------------------------------------------------------------------


def test_buffered_chat_request_shape() -> None:
    script = Script(json_response(completion_json()))
    client, _ = make_client(script)
    client.chat.create(
        model="spark-1",
        messages=[{"role": "user", "content": "Hello, how are you?"}],
        max_tokens=1000,
        temperature=0.7,
    )
    request = script.requests[0]
    assert request.method == "POST"
    assert str(request.url) == BASE_URL + "/v1/chat"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"] == f"sparkaistream-python/{sparkaistream.__version__}"
    assert script.body() == {
        "model": "spark-1",
        "messages": [{"role": "user", "content": "Hello, how are you?"}],
        "max_tokens": 1000,
        "temperature": 0.7,
    }


def test_stream_true_goes_to_the_stream_url() -> None:
    script = Script(stream_response(sse(*chat_events("Hi"))))
    client, _ = make_client(script)
    with client.chat.create(model="spark-1", messages=USER_HELLO, stream=True) as stream:
        assert isinstance(stream, Stream)
        list(stream)
    request = script.requests[0]
    assert str(request.url) == STREAM_URL + "/v1/chat"
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert script.body() == {"model": "spark-1", "messages": USER_HELLO, "stream": True}


def test_all_parameters_extra_body_and_extra_headers() -> None:
    script = Script(json_response(completion_json()))
    client, _ = make_client(script)
    client.chat.create(
        model="spark-pro",
        messages=[ChatMessage("system", "Be brief."), {"role": "user", "content": "Hi"}],
        max_tokens=5,
        temperature=0.0,
        top_p=0.9,
        stop=("\n\n", "END"),
        user="user-42",
        extra_body={"n": 1, "temperature": 0.1},
        extra_headers={"X-Trace": "abc"},
    )
    assert script.body() == {
        "model": "spark-pro",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "max_tokens": 5,
        "temperature": 0.1,
        "top_p": 0.9,
        "stop": ["\n\n", "END"],
        "user": "user-42",
        "n": 1,
    }
    assert script.requests[0].headers["x-trace"] == "abc"


def test_messages_must_be_a_list_of_messages() -> None:
    client, _ = make_client(Script())
    with pytest.raises(TypeError, match="list of messages"):
        client.chat.create(model="spark-1", messages="Hello!")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mapping"):
        client.chat.create(model="spark-1", messages=["Hello!"])  # type: ignore[list-item]


def test_per_call_timeout_overrides_the_client_timeout() -> None:
    seen: list[dict[str, float | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return json_response(completion_json())

    client, _ = make_client(Script(answer, answer), timeout=12.0)
    client.chat.create(model="spark-1", messages=USER_HELLO)
    client.chat.create(model="spark-1", messages=USER_HELLO, timeout=3.0)
    assert seen[0]["read"] == 12.0
    assert seen[1] == {"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 3.0}


# --- buffered parsing ----------------------------------------------------------------------


def test_buffered_completion_is_typed() -> None:
    client, _ = make_client(Script(json_response(completion_json(), headers=RATE_HEADERS)))
    completion = client.chat.create(model="spark-1", messages=USER_HELLO)
    assert isinstance(completion, ChatCompletion)
    assert completion.id == "chat-abc123"
    assert completion.object == "chat.completion"
    assert completion.created == 1234567890
    assert completion.model == "spark-1"
    assert completion.choices[0].message.role == "assistant"
    assert (
        completion.choices[0].message.content == "Hello! I'm doing great. How can I help you today?"
    )
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 18)
    assert completion.usage.total_tokens == 30
    assert completion.request_id == REQUEST_ID
    assert completion.rate_limit is not None
    assert completion.rate_limit.remaining_requests == 29
    assert completion.rate_limit.reset_tokens == pytest.approx(0.12)


def test_unknown_fields_are_ignored() -> None:
    body = completion_json()
    body["system_fingerprint"] = "fp_1"
    body["choices"][0]["logprobs"] = None
    client, _ = make_client(Script(json_response(body)))
    assert (
        client.chat.create(model="spark-1", messages=USER_HELLO).choices[0].finish_reason == "stop"
    )


def test_a_success_that_is_not_json_is_a_validation_error() -> None:
    client, _ = make_client(Script(httpx.Response(200, text="<html>oops</html>")))
    with pytest.raises(APIResponseValidationError, match="oops"):
        client.chat.create(model="spark-1", messages=USER_HELLO)


# --- models --------------------------------------------------------------------------------


def test_models_list() -> None:
    script = Script(json_response(MODELS_JSON))
    client, _ = make_client(script)
    models = client.models.list()
    assert script.requests[0].method == "GET"
    assert str(script.requests[0].url) == BASE_URL + "/v1/models"
    assert script.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert [m.id for m in models] == ["spark-1", "spark-pro"]
    assert len(models) == 2
    assert models.request_id == REQUEST_ID
    first = models.data[0]
    assert first.max_tokens == 4096
    assert first.context_length == 8192
    assert first.owned_by == "sparkai"
    assert first.pricing is not None
    assert first.pricing.per_1k_tokens_usd == Decimal("0.0003")


def test_models_retrieve_and_not_found() -> None:
    script = Script(
        json_response(MODELS_JSON["data"][1]),
        error_response(404, "model_not_found", message="The model 'nope' does not exist."),
    )
    client, _ = make_client(script)
    model = client.models.retrieve("spark-pro")
    assert str(script.requests[0].url) == BASE_URL + "/v1/models/spark-pro"
    assert model.id == "spark-pro"
    assert model.description == "Enhanced reasoning & analysis"
    with pytest.raises(NotFoundError) as caught:
        client.models.retrieve("nope")
    assert caught.value.code == "model_not_found"


def test_model_ids_are_path_escaped() -> None:
    script = Script(json_response(MODELS_JSON["data"][0]))
    client, _ = make_client(script)
    client.models.retrieve("a/b c")
    assert script.requests[0].url.raw_path == b"/live/v1/models/a%2Fb%20c"


# --- typed errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "model_not_found", BadRequestError),
        (401, "invalid_api_key", AuthenticationError),
        (403, None, PermissionDeniedError),
        (404, "not_found", NotFoundError),
        (405, "method_not_allowed", APIStatusError),
        (413, "request_too_large", RequestTooLargeError),
        (429, "rate_limit_exceeded", RateLimitError),
        (500, "internal_error", InternalServerError),
        (502, "model_error", InternalServerError),
        (503, "model_unavailable", InternalServerError),
        (504, "model_timeout", InternalServerError),
    ],
)
def test_errors_are_typed_and_carry_the_details(
    status: int, code: str | None, cls: type[APIStatusError]
) -> None:
    response = error_response(status, code, message="Nope.", param="model")
    client, _ = make_client(Script(response), max_retries=0)
    with pytest.raises(cls) as caught:
        client.chat.create(model="spark-9", messages=USER_HELLO)
    error = caught.value
    assert type(error) is cls
    assert isinstance(error, APIStatusError)
    assert isinstance(error, SparkAIError)
    assert error.status_code == status
    assert error.code == code
    assert error.type == "invalid_request_error"
    assert error.param == "model"
    assert error.message == "Nope."
    assert error.request_id == REQUEST_ID
    assert error.headers["x-request-id"] == REQUEST_ID
    assert error.body == json.loads(response.content)
    assert f"status {status}" in str(error)
    assert REQUEST_ID in str(error)


def test_rate_limit_error_names_the_budget_and_retry_after() -> None:
    response = error_response(
        429,
        "rate_limit_exceeded",
        type_="tokens",
        message="Rate limit reached.",
        headers={"retry-after": "7"},
    )
    client, _ = make_client(Script(response), max_retries=0)
    with pytest.raises(RateLimitError) as caught:
        client.chat.create(model="spark-1", messages=USER_HELLO)
    assert caught.value.type == "tokens"
    assert caught.value.retry_after == 7.0


def test_error_bodies_not_in_the_documented_shape() -> None:
    gateway = httpx.Response(
        403, json={"message": "Forbidden"}, headers={"x-amzn-requestid": "gw-1"}
    )
    html = httpx.Response(502, text="<html>Bad Gateway</html>")
    empty = httpx.Response(500)
    client, _ = make_client(Script(gateway, html, empty), max_retries=0)
    with pytest.raises(PermissionDeniedError) as denied:
        client.models.list()
    assert (denied.value.message, denied.value.request_id, denied.value.code) == (
        "Forbidden",
        "gw-1",
        None,
    )
    with pytest.raises(InternalServerError) as bad_gateway:
        client.models.list()
    assert bad_gateway.value.message == "<html>Bad Gateway</html>"
    with pytest.raises(InternalServerError) as internal:
        client.models.list()
    assert internal.value.message == "HTTP 500 Internal Server Error"
