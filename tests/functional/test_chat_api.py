"""The FastAPI app in process (bearer mode, as on the Function URL and the local stack), with moto
for DynamoDB and SageMaker InvokeEndpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from fastapi.testclient import TestClient

from sparkai import aws
from sparkai.api.app import create_app
from sparkai.plans import Limits
from tests.conftest import JsonLogs, KeyFactory, queue_sagemaker_results
from tests.functional.test_chat_handler import TGI_ANSWER

HELLO = {"model": "spark-1", "messages": [{"role": "user", "content": "Hello, how are you?"}]}


@pytest.fixture
def client(moto: None) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_chat_answers_with_the_documented_shape_and_headers(
    client: TestClient, make_key: KeyFactory
) -> None:
    key = make_key("starter")
    queue_sagemaker_results(json.dumps(TGI_ANSWER))

    response = client.post("/v1/chat", json={**HELLO, "max_tokens": 1000}, headers=auth(key.secret))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "spark-1"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": TGI_ANSWER["choices"][0]["message"]["content"],
    }
    assert body["usage"] == {"prompt_tokens": 12, "completion_tokens": 18, "total_tokens": 30}
    assert response.headers["x-request-id"].startswith("req_")
    assert response.headers["x-ratelimit-limit-requests"] == "30"
    assert response.headers["x-ratelimit-remaining-requests"] == "29"
    assert response.headers["x-ratelimit-reset-requests"] == "2s"
    assert response.headers["x-ratelimit-limit-tokens"] == "15000"
    assert int(response.headers["x-ratelimit-remaining-tokens"]) < 15_000 - 1000
    assert response.headers["x-ratelimit-reset-tokens"].endswith("s")


def test_openai_path_behaves_the_same(client: TestClient, make_key: KeyFactory) -> None:
    key = make_key()
    queue_sagemaker_results(json.dumps(TGI_ANSWER))
    response = client.post("/v1/chat/completions", json=HELLO, headers=auth(key.secret))
    assert response.status_code == 200
    assert response.json()["object"] == "chat.completion"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer sk-spark-unknown-key-000000000000000000"},
    ],
)
def test_requests_without_a_valid_key_get_401(
    client: TestClient, make_key: KeyFactory, headers: dict[str, str]
) -> None:
    make_key()
    response = client.post("/v1/chat", json=HELLO, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["x-request-id"]


def test_auth_is_checked_before_the_body(client: TestClient) -> None:
    response = client.post("/v1/chat", content=b"not json")
    assert response.status_code == 401


def test_revoked_and_expired_keys_get_401_immediately(
    client: TestClient, make_key: KeyFactory
) -> None:
    revoked, expired = make_key(), make_key(expires_in=3600)
    queue_sagemaker_results(json.dumps(TGI_ANSWER))
    assert client.post("/v1/chat", json=HELLO, headers=auth(revoked.secret)).status_code == 200
    make_key.admin.revoke_key(revoked.record.key_id)
    make_key.admin._keys.update(expired.record.key_hash, expires_at=1)
    for key, message in ((revoked, "revoked"), (expired, "expired")):
        response = client.post("/v1/chat", json=HELLO, headers=auth(key.secret))
        assert response.status_code == 401
        assert message in response.json()["error"]["message"]


def test_unknown_fields_are_ignored_and_text_parts_accepted(
    client: TestClient, make_key: KeyFactory
) -> None:
    key = make_key()
    queue_sagemaker_results(json.dumps(TGI_ANSWER))
    body = {
        "model": "spark-pro",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "logit_bias": {},
        "seed": 1,
    }
    assert client.post("/v1/chat", json=body, headers=auth(key.secret)).status_code == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**HELLO, "model": "gpt-4"}, "model"),
        ({**HELLO, "messages": []}, "messages"),
        ({**HELLO, "messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        ({**HELLO, "messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
        ({**HELLO, "temperature": 2.5}, "temperature"),
        ({**HELLO, "temperature": "hot"}, "temperature"),
        ({**HELLO, "max_tokens": 0}, "max_tokens"),
        ({**HELLO, "model": "spark-turbo", "max_tokens": 4097}, "max_tokens"),
        ({**HELLO, "top_p": 1.5}, "top_p"),
        ({**HELLO, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({**HELLO, "stop": "x" * 129}, "stop"),  # each stop sequence: at most 128 characters
        ({**HELLO, "stop": ["\n", "x" * 100_000]}, "stop[1]"),
        ({**HELLO, "stream": "yes"}, "stream"),
        ({**HELLO, "n": 2}, "n"),
        ({"messages": HELLO["messages"]}, "model"),
    ],
)
def test_invalid_parameters_get_400_naming_them(
    client: TestClient, make_key: KeyFactory, body: dict[str, Any], param: str
) -> None:
    key = make_key()
    response = client.post("/v1/chat", json=body, headers=auth(key.secret))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert param.split("[")[0].split(".")[0] in error["message"]


def test_spark_pro_accepts_its_larger_max_tokens(client: TestClient, make_key: KeyFactory) -> None:
    key = make_key("pro")
    queue_sagemaker_results(json.dumps(TGI_ANSWER))
    response = client.post(
        "/v1/chat",
        json={**HELLO, "model": "spark-pro", "max_tokens": 8192},
        headers=auth(key.secret),
    )
    assert response.status_code == 200


def test_malformed_json_and_non_objects_get_400(client: TestClient, make_key: KeyFactory) -> None:
    key = make_key()
    for raw in (b"{", b"[]", b""):
        response = client.post(
            "/v1/chat",
            content=raw,
            headers={**auth(key.secret), "content-type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_json"


def test_oversized_bodies_get_413(client: TestClient, make_key: KeyFactory) -> None:
    key = make_key()
    big = {**HELLO, "messages": [{"role": "user", "content": "x" * 1_100_000}]}
    response = client.post("/v1/chat", json=big, headers=auth(key.secret))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"

    def chunks() -> Iterator[bytes]:  # no content-length: counted while reading
        yield b'{"model": "spark-1", "messages": [{"role": "user", "content": "'
        for _ in range(12):
            yield b"y" * 100_000
        yield b'"}]}'

    response = client.post("/v1/chat", content=chunks(), headers=auth(key.secret))
    assert response.status_code == 413


def test_unknown_routes_and_methods_use_the_error_shape(client: TestClient) -> None:
    response = client.get("/v2/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.headers["x-request-id"]
    response = client.get("/v1/chat")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_models_are_listed_with_context_and_price(client: TestClient, make_key: KeyFactory) -> None:
    key = make_key()
    listing = client.get("/v1/models", headers=auth(key.secret)).json()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == ["spark-1", "spark-turbo", "spark-pro"]
    pro = client.get("/v1/models/spark-pro", headers=auth(key.secret)).json()
    assert pro["max_tokens"] == 8192 and pro["pricing"] == {"per_1k_tokens_usd": "0.0012"}
    missing = client.get("/v1/models/gpt-4", headers=auth(key.secret))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"
    assert client.get("/v1/models").status_code == 401


def test_rate_limited_requests_get_429_with_headers_and_no_model_call(
    client: TestClient, make_key: KeyFactory
) -> None:
    key = make_key("enterprise", limits=Limits(2, 100_000))
    queue_sagemaker_results(json.dumps(TGI_ANSWER))
    for _ in range(2):
        assert client.post("/v1/chat", json=HELLO, headers=auth(key.secret)).status_code == 200
    response = client.post("/v1/chat", json=HELLO, headers=auth(key.secret))
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests"
    assert "Enterprise plan" in error["message"] and "2 requests per minute" in error["message"]
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-ratelimit-limit-tokens"] == "100000"


def test_max_tokens_beyond_the_token_budget_is_refused_with_a_reason(
    client: TestClient, make_key: KeyFactory
) -> None:
    key = make_key("enterprise", limits=Limits(100, 2_000))
    response = client.post("/v1/chat", json={**HELLO, "max_tokens": 3000}, headers=auth(key.secret))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "tokens_exceed_rate_limit" and error["param"] == "max_tokens"
    assert "2,000 tokens per minute" in error["message"]


def test_an_unreachable_limiter_refuses_with_503(client: TestClient, make_key: KeyFactory) -> None:
    key = make_key()
    broken = boto3.client("dynamodb", region_name="us-east-1")
    real = aws.client("dynamodb")
    stubber = Stubber(broken)
    # The key lookup works (real moto client); the limiter's update fails.
    broken.get_item = real.get_item  # type: ignore[method-assign]
    stubber.add_client_error("update_item", "InternalServerError", http_status_code=500)
    aws.set_client("dynamodb", broken)
    with stubber:
        response = client.post("/v1/chat", json=HELLO, headers=auth(key.secret))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "rate_limiter_unavailable"
    assert response.headers["retry-after"] == "1"


def test_usage_is_logged_once_without_the_key(
    client: TestClient, make_key: KeyFactory, json_logs: JsonLogs
) -> None:
    key = make_key()
    queue_sagemaker_results(json.dumps(TGI_ANSWER))
    completion = client.post("/v1/chat", json=HELLO, headers=auth(key.secret)).json()
    usage = [r for r in json_logs.records() if r["message"] == "usage"]
    assert len(usage) == 1
    assert usage[0]["completion_id"] == completion["id"]
    assert (
        usage[0]["total_tokens"] == 30 and usage[0]["cost_usd"] == "0.000009"
    )  # 30 tokens at $0.0003/1K
    assert usage[0]["account_id"] == key.record.account_id
    assert key.secret not in json_logs.text


def test_last_used_is_recorded(client: TestClient, make_key: KeyFactory) -> None:
    key = make_key()
    queue_sagemaker_results(json.dumps(TGI_ANSWER))
    client.post("/v1/chat", json=HELLO, headers=auth(key.secret))
    (record,) = make_key.admin.list_keys(key.record.account_id)
    assert record.last_used_at is not None
