"""Shared fixtures: an isolated AWS environment, moto tables built from template.yaml, and
factories for accounts and keys."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from sparkai.accounts.service import AccountAdmin, CreatedKey
from sparkai.accounts.store import AccountStore
from sparkai.aws import PARAMETER_VALIDATION_VARIABLE
from sparkai.keys.epochs import KeyEpochs
from sparkai.keys.store import KeyStore
from sparkai.plans import Limits
from sparkai.wiring import reset as reset_process_caches
from sparkai_local import moto_numbers, moto_request_tokens
from sparkai_local.template import create_tables

moto_numbers.install()  # DynamoDB's exact decimal arithmetic in in-process moto too
moto_request_tokens.install()  # and its ClientRequestToken rules (a reused token with new items)

# Fixtures of the local SageMaker-runtime server and the API server live beside their helpers.
# inflight: which test each worker runs, for .ci/run's time guard; no_native_model: llama.cpp
# runs only in child processes, never in a test worker.
pytest_plugins = [
    "tests.support.fixtures_servers",
    "tests.support.inflight",
    "tests.support.no_native_model",
    "tests.support.dashboard_world",
    "tests.support.chat_server",
]

TABLES = {
    "ApiKeysTable": "test-api-keys",
    "AccountsTable": "test-accounts",
    "RateLimitsTable": "test-rate-limits",
    "UsageTable": "test-usage",
    "IdempotencyTable": "test-idempotency",
}
REGION = "us-east-1"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with fake credentials, no real endpoint and fresh caches."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "SPARKAI_", "POWERTOOLS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("SPARKAI_KEYS_TABLE", TABLES["ApiKeysTable"])
    monkeypatch.setenv("SPARKAI_ACCOUNTS_TABLE", TABLES["AccountsTable"])
    monkeypatch.setenv("SPARKAI_RATE_LIMITS_TABLE", TABLES["RateLimitsTable"])
    monkeypatch.setenv("SPARKAI_USAGE_TABLE", TABLES["UsageTable"])
    monkeypatch.setenv("SPARKAI_IDEMPOTENCY_TABLE", TABLES["IdempotencyTable"])
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "sparkai-stream-tests")
    # botocore's request checks, off in the app (sparkai/aws.py), on for every test and the
    # local servers they start: a malformed request fails here, not in AWS.
    monkeypatch.setenv(PARAMETER_VALIDATION_VARIABLE, "1")
    reset_process_caches()
    yield
    reset_process_caches()


@pytest.fixture
def moto() -> Iterator[None]:
    """moto for every AWS service, with the template's DynamoDB tables created."""
    with mock_aws():
        moto_request_tokens.reset()
        create_tables(boto3.client("dynamodb", region_name=REGION), TABLES)
        yield


@pytest.fixture
def dynamodb(moto: None) -> Any:
    """A DynamoDB client on moto's tables (those of the `moto` fixture)."""
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def admin(moto: None) -> AccountAdmin:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return AccountAdmin(
        accounts=AccountStore(TABLES["AccountsTable"], lambda: dynamodb),
        keys=KeyStore(TABLES["ApiKeysTable"], lambda: dynamodb),
        epochs=KeyEpochs(TABLES["RateLimitsTable"], lambda: dynamodb),
    )


class KeyFactory:
    """Creates an account and a key in one call; `secret` pins the key (e.g. the events' key)."""

    def __init__(self, admin: AccountAdmin) -> None:
        self.admin = admin

    def __call__(
        self,
        plan: str = "pro",
        *,
        secret: str | None = None,
        limits: Limits | None = None,
        expires_in: int | None = None,
    ) -> CreatedKey:
        account = self.admin.create_account(plan, name="test", limits=limits)
        return self.admin.create_key(account.account_id, secret=secret, expires_in=expires_in)


@pytest.fixture
def make_key(admin: AccountAdmin) -> KeyFactory:
    return KeyFactory(admin)


def queue_sagemaker_results(*bodies: str | bytes, content_type: str = "application/json") -> None:
    """Answers moto's InvokeEndpoint returns, in order (moto caches one per endpoint and body)."""
    results = [
        {
            "Body": b.decode() if isinstance(b, bytes) else b,
            "ContentType": content_type,
            "InvokedProductionVariant": "AllTraffic",
            "CustomAttributes": "",
        }
        for b in bodies
    ]
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
        json={"account_id": "123456789012", "region": REGION, "results": results},
        timeout=5,
    )
    response.raise_for_status()


class JsonLogs:
    """Everything the service logged during a test, formatted as it would be in CloudWatch."""

    def __init__(self, buffer: io.StringIO, logged: threading.Condition) -> None:
        self._buffer = buffer
        self._logged = logged

    @property
    def text(self) -> str:
        return self._buffer.getvalue()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def wait_for(self, message: str, count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
        """The records with `message`, once `count` of them were logged (servers log on their own
        threads, e.g. a stream's settle just after its model stream closed): wakes on each log
        line, never polls; `timeout` only bounds a failure."""

        def matching() -> list[dict[str, Any]]:
            return [r for r in self.records() if r["message"] == message]

        with self._logged:
            self._logged.wait_for(lambda: len(matching()) >= count, timeout)
        return matching()


class _NotifyingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def __init__(self, buffer: io.StringIO, logged: threading.Condition) -> None:
        super().__init__(buffer)
        self._logged = logged

    def emit(self, record: logging.LogRecord) -> None:
        with self._logged:
            super().emit(record)
            self._logged.notify_all()


@pytest.fixture
def json_logs() -> Iterator[JsonLogs]:
    from sparkai.observability import logger

    buffer = io.StringIO()
    logged = threading.Condition()
    handler = _NotifyingHandler(buffer, logged)
    handler.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(handler)
    try:
        yield JsonLogs(buffer, logged)
    finally:
        logger._logger.removeHandler(handler)
