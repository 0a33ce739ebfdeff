"""boto3 clients: created once per process on first use, never at import, and replaceable in tests.

Endpoints come from boto3's own configuration, so the same code reaches real AWS, moto or the local
stack: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, AWS_ENDPOINT_URL_API_GATEWAY.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # stubs only: the authorizer's cold import pays nothing for the types
    from collections.abc import Callable

    from types_boto3_apigateway.client import APIGatewayClient
    from types_boto3_dynamodb.client import DynamoDBClient
    from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient

    # What stores and adapters take: a client per call, so SnapStart's restore (or a test) can
    # swap the process's client under a long-lived store.
    DynamoDBFactory = Callable[[], DynamoDBClient]
    SageMakerRuntimeFactory = Callable[[], SageMakerRuntimeClient]

_lock = threading.Lock()
_clients: dict[str, Any] = {}

# Fail fast on the small DynamoDB calls: a key check or a limiter update that takes longer than
# this is better answered with a clear 503 than by holding the request. The worst case must stay
# below the authorizer function's Timeout (template.yaml, 5 s), or a slow key store would end in
# a Lambda timeout (API Gateway's bare 500) instead of the authorizer's documented 503.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "dynamodb": {
        "connect_timeout": 0.5,
        "read_timeout": 1.0,
        "retries": {"mode": "standard", "total_max_attempts": 2},
    },
}


# botocore checks every request against the service model before sending it: about a tenth of a
# DynamoDB call's client CPU, a quarter for a settle's transaction, on a path with three calls per
# chat request. Every request here is built by typed code, and AWS checks each one again (a bad one
# is a ValidationException, handled as any failed call). The test suite turns the check on
# (tests/conftest.py), so a malformed request fails there, before it reaches AWS.
PARAMETER_VALIDATION_VARIABLE = "SPARKAI_AWS_PARAMETER_VALIDATION"


def _validate_parameters() -> bool:
    return os.environ.get(PARAMETER_VALIDATION_VARIABLE, "") == "1"


def worst_case_seconds(service: str) -> float:
    """The longest one call of `service`'s default client can take: every attempt waiting out both
    timeouts, and botocore's standard-mode backoff at its ceiling before each retry
    (min(2**(n-1), 20) s before retry n)."""
    options = _DEFAULTS[service]
    attempts = int(options["retries"]["total_max_attempts"])
    per_attempt = float(options["connect_timeout"]) + float(options["read_timeout"])
    return float(attempts * per_attempt + sum(min(2 ** (n - 1), 20) for n in range(1, attempts)))


def client(service: str, **config: Any) -> Any:
    """The shared client for `service` (one per distinct config), created lazily and thread-safely."""
    cache_key = service + repr(sorted(config.items()))
    existing = _clients.get(cache_key)
    if existing is not None:
        return existing
    with _lock:
        if cache_key not in _clients:
            import boto3
            from botocore.config import Config

            options = {**_DEFAULTS.get(service, {}), **config}
            options.setdefault("parameter_validation", _validate_parameters())
            # boto3's stubs type client() per literal service name; `service` is any name here,
            # and the typed accessors below give callers the precise client type.
            make: Any = boto3.client
            made = make(service, config=Config(**options))
            if service == "dynamodb":
                from sparkai.dynamo import retry_transaction_conflicts

                made = retry_transaction_conflicts(made)
            _clients[cache_key] = made
        return _clients[cache_key]


def dynamodb() -> DynamoDBClient:
    """The shared DynamoDB client (fail-fast timeouts, see _DEFAULTS)."""
    return cast("DynamoDBClient", client("dynamodb"))


def sagemaker_runtime(**config: Any) -> SageMakerRuntimeClient:
    return cast("SageMakerRuntimeClient", client("sagemaker-runtime", **config))


def apigateway() -> APIGatewayClient:
    return cast("APIGatewayClient", client("apigateway"))


def set_client(service: str, value: Any, **config: Any) -> None:
    """Install a client (a stub or one pointed elsewhere) for `service` and `config`."""
    with _lock:
        _clients[service + repr(sorted(config.items()))] = value


def reset_clients() -> None:
    """Drop every cached client, e.g. after tests change AWS_* variables."""
    with _lock:
        _clients.clear()
