"""X-Ray on the chat path: GatewayStreamFunction's template environment, the real app under uvicorn,
events relayed as the Web Adapter relays them, with the invocation's trace header the adapter
forwards (`x-amzn-trace-id`). Tracing is turned on the way Lambda turns it on (its environment
variables); segment documents go to an in-memory emitter instead of the X-Ray daemon's UDP port.
Every AWS call of the request is a subsegment under the request's annotated subsegment, under the
invocation's segment; no document holds the key, the prompt or the account."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.client
import botocore.endpoint
import pytest

from sparkai.api import tracing
from sparkai.api.app import create_app
from tests.support.adapter_relay import send
from tests.support.events import EXAMPLE_KEY, load_event
from tests.support.fixtures_servers import SageMakerServer
from tests.support.lambda_harness import function_environment, function_spec
from tests.support.servers import serve

ROOT = Path(__file__).resolve().parents[2]
TRACE_ROOT = "1-6756a1b2-0123456789abcdef01234567"
INVOCATION_SEGMENT = "53995c3f42cd8ad8"
PROMPT = "canary prompt 7f3a9c: please never trace me"
ACCOUNT = "acct_example0000001"


class MemoryEmitter:
    """The X-Ray SDK's emitter interface, keeping what would be sent to the daemon."""

    def __init__(self) -> None:
        self.documents: queue.Queue[dict[str, Any]] = queue.Queue()

    def send_entity(self, entity: Any) -> None:
        self.documents.put(json.loads(entity.serialize()))

    def set_daemon_address(self, address: str) -> None:
        pass

    def until_request_closed(self) -> list[dict[str, Any]]:
        """Every document up to the request's own subsegment, which the middleware sends last
        (after the response is over, so possibly after the client has read it): wait for it."""
        sent = []
        while True:
            document = self.documents.get(timeout=30)
            sent.append(document)
            if document["name"] == tracing.REQUEST_SUBSEGMENT:
                return sent


def _unpatch_botocore() -> None:
    """The X-Ray SDK patches botocore's classes for the process; give the next test plain ones."""
    for owner, name in (
        (botocore.client.BaseClient, "_make_api_call"),
        (botocore.endpoint.Endpoint, "prepare_request"),
    ):
        wrapped = owner.__dict__[name]
        setattr(owner, name, getattr(wrapped, "__wrapped__", wrapped))
    if hasattr(botocore.client, "_xray_enabled"):
        delattr(botocore.client, "_xray_enabled")
    from aws_xray_sdk.core import patcher  # type: ignore[import-untyped]

    patcher._PATCHED_MODULES.discard("botocore")  # so the next enabled test patches again


@pytest.fixture
def emitter(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryEmitter]:
    from aws_xray_sdk import global_sdk_config  # type: ignore[import-untyped]

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "GatewayStreamFunction")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(ROOT / "functions" / "chat_stream"))
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    tracing.reset()
    global_sdk_config.set_sdk_enabled(True)
    recorder = tracing.recorder()
    assert recorder is not None
    memory = MemoryEmitter()
    recorder.configure(emitter=memory)
    try:
        yield memory
    finally:
        _unpatch_botocore()
        tracing.reset()


@pytest.fixture
def traced_gateway_app(
    emitter: MemoryEmitter,
    moto: None,
    sagemaker_server: SageMakerServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server.url)
    with function_environment(function_spec("GatewayStreamFunction")), serve(create_app()) as url:
        yield url


def traced_event(name: str, sampled: int = 1) -> dict[str, Any]:
    event = load_event(f"chat_stream/{name}")
    body = json.loads(event["body"])
    body["messages"][0]["content"] = PROMPT
    event["body"] = json.dumps(body)
    header = f"Root={TRACE_ROOT};Parent={INVOCATION_SEGMENT};Sampled={sampled}"
    event["headers"]["X-Amzn-Trace-Id"] = header
    event["multiValueHeaders"]["X-Amzn-Trace-Id"] = [header]
    return event


def operations(documents: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (d["name"], d["aws"]["operation"]) for d in documents if "operation" in d.get("aws", {})
    ]


@pytest.mark.parametrize(
    ("event_name", "model_call"),
    [("apigw-buffered", "InvokeEndpoint"), ("apigw-stream", "InvokeEndpointWithResponseStream")],
)
def test_a_chat_request_traces_each_aws_call_under_its_annotated_request(
    traced_gateway_app: str, emitter: MemoryEmitter, event_name: str, model_call: str
) -> None:
    response = send(traced_gateway_app, traced_event(event_name))
    assert response.status_code == 200

    documents = emitter.until_request_closed()
    calls = operations(documents)
    # The reservation, the model, and the settle (limiter refund + ledger + marker in one).
    assert ("dynamodb", "UpdateItem") in calls
    assert ("runtime.sagemaker", model_call) in calls
    assert ("dynamodb", "TransactWriteItems") in calls
    assert calls.index(("dynamodb", "UpdateItem")) < calls.index(("runtime.sagemaker", model_call))

    request = documents[-1]
    assert request["type"] == "subsegment"
    assert request["trace_id"] == TRACE_ROOT
    assert request["parent_id"] == INVOCATION_SEGMENT  # under the Lambda invocation's segment
    assert request["annotations"] == {"model": "spark-1", "plan": "pro", "status": 200}
    for call in documents[:-1]:
        assert call["trace_id"] == TRACE_ROOT
        assert call["parent_id"] == request["id"]
        assert call["namespace"] == "aws"

    everything = json.dumps(documents)
    event = load_event(f"chat_stream/{event_name}")
    for secret in (
        EXAMPLE_KEY,
        "canary prompt",
        ACCOUNT,
        event["requestContext"]["authorizer"]["key_hash"],
    ):
        assert secret not in everything


def test_an_unsampled_invocation_sends_nothing(
    traced_gateway_app: str, emitter: MemoryEmitter
) -> None:
    assert send(traced_gateway_app, traced_event("apigw-buffered", sampled=0)).status_code == 200
    # A sampled request afterwards is the first thing the emitter sees.
    assert send(traced_gateway_app, traced_event("apigw-buffered")).status_code == 200
    documents = emitter.until_request_closed()
    assert {d["trace_id"] for d in documents} == {TRACE_ROOT}
    assert [d["name"] for d in documents].count(tracing.REQUEST_SUBSEGMENT) == 1


def test_mangum_functions_take_the_invocation_from_the_runtimes_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(tracing.LAMBDA_TRACE_ENV, f"Root={TRACE_ROOT};Parent=aa;Sampled=1")
    forged = [(b"x-amzn-trace-id", b"Root=1-00000000-000000000000000000000000;Parent=bb;Sampled=1")]
    mangum_scope = {"type": "http", "headers": forged, "aws.event": {}}
    assert tracing.trace_header_for(mangum_scope) == f"Root={TRACE_ROOT};Parent=aa;Sampled=1"
    adapter_scope = {"type": "http", "headers": forged}
    assert tracing.trace_header_for(adapter_scope) == forged[0][1].decode()


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        ({"AWS_LAMBDA_FUNCTION_NAME": "f", "LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({}, False),  # the local stack, the tests
        ({"AWS_LAMBDA_FUNCTION_NAME": "f"}, False),
        (
            {
                "AWS_LAMBDA_FUNCTION_NAME": "f",
                "LAMBDA_TASK_ROOT": "/var/task",
                "POWERTOOLS_TRACE_DISABLED": "true",
            },
            False,
        ),
        (
            {
                "AWS_LAMBDA_FUNCTION_NAME": "f",
                "LAMBDA_TASK_ROOT": "/var/task",
                "AWS_SAM_LOCAL": "1",
            },
            False,
        ),
    ],
)
def test_tracing_is_on_only_in_lambda(environ: dict[str, str], enabled: bool) -> None:
    assert tracing.tracing_enabled(environ) is enabled


def test_outside_lambda_a_request_never_imports_the_xray_sdk() -> None:
    # A fresh interpreter (this one may have imported it for the tests above).
    script = """
import os, sys
for name in ("AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT"):
    os.environ.pop(name, None)
from starlette.testclient import TestClient
from sparkai.api.app import app
assert TestClient(app).get("/healthz").status_code == 200  # through every middleware
print(sorted(m for m in sys.modules if m.startswith(("aws_xray_sdk", "wrapt"))))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers" / "sparkai")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
