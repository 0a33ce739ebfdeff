"""boto3 clients: created once per process on first use, never at import, and replaceable in tests.

Endpoints come from boto3's own configuration, so the same code reaches real AWS, moto or the local
stack: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, AWS_ENDPOINT_URL_API_GATEWAY.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[str, Any] = {}

# Fail fast on the small DynamoDB calls: a key check or a limiter update that takes longer than
# this is better answered with a clear 503 than by holding the request.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "dynamodb": {
        "connect_timeout": 1,
        "read_timeout": 2,
        "retries": {"mode": "standard", "total_max_attempts": 3},
    },
}


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
            _clients[cache_key] = boto3.client(service, config=Config(**options))
        return _clients[cache_key]


def set_client(service: str, value: Any, **config: Any) -> None:
    """Install a client (a stub or one pointed elsewhere) for `service` and `config`."""
    with _lock:
        _clients[service + repr(sorted(config.items()))] = value


def reset_clients() -> None:
    """Drop every cached client, e.g. after tests change AWS_* variables."""
    with _lock:
        _clients.clear()
