"""A buffered answer settled after its body (SPARKAI_SETTLE_AFTER_LAST_BYTE=1, the local stack):
still metered exactly once, and still replayable the moment the client has it. The real app under
uvicorn, the local SageMaker runtime with the scripted model, moto for DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sparkai.api.app import create_app
from sparkai.api.sse import SETTLE_AFTER_LAST_BYTE
from tests.conftest import JsonLogs, KeyFactory
from tests.support.fixtures_servers import SageMakerServer
from tests.support.servers import serve

HELLO = {"model": "spark-1", "messages": [{"role": "user", "content": "Hello, how are you?"}]}


@pytest.fixture
def url(
    moto: None, sagemaker_server: SageMakerServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server.url)
    monkeypatch.setenv(SETTLE_AFTER_LAST_BYTE, "1")
    with serve(create_app()) as served:
        yield served


def chat(url: str, key: str, idem: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if idem is not None:
        headers["Idempotency-Key"] = idem
    return httpx.post(f"{url}/v1/chat", json=HELLO, headers=headers, timeout=30)


def usage_totals(url: str, key: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/v1/usage", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code == 200, response.text
    totals: dict[str, Any] = response.json()["totals"]
    return totals


def test_each_buffered_answer_is_metered_once_after_its_body(
    url: str, make_key: KeyFactory, json_logs: JsonLogs
) -> None:
    key = make_key().secret
    first = chat(url, key)
    assert first.status_code == 200, first.text
    json_logs.wait_for("usage", 1)  # the settle follows the body: wait for it, by its log line
    totals = usage_totals(url, key)
    assert totals["requests"] == 1
    assert totals["total_tokens"] == first.json()["usage"]["total_tokens"]

    second = chat(url, key)
    assert second.status_code == 200, second.text
    assert len(json_logs.wait_for("usage", 2)) == 2
    totals = usage_totals(url, key)
    assert totals["requests"] == 2  # not 3 or 4: neither answer was settled twice
    assert totals["total_tokens"] == (
        first.json()["usage"]["total_tokens"] + second.json()["usage"]["total_tokens"]
    )


def test_an_answer_is_replayable_as_soon_as_the_client_has_it(
    url: str, make_key: KeyFactory, sagemaker_server: SageMakerServer, json_logs: JsonLogs
) -> None:
    key = make_key().secret
    first = chat(url, key, idem="order-1")
    assert first.status_code == 200, first.text
    # An immediate retry (the settle may still be running) is the stored answer, not a 409.
    retry = chat(url, key, idem="order-1")
    assert retry.status_code == 200, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert sum(sagemaker_server.backend.invocations.values()) == 1
    json_logs.wait_for("usage", 1)
    assert usage_totals(url, key)["requests"] == 1
