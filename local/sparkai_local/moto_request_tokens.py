"""TransactWriteItems' ClientRequestToken for moto, as DynamoDB enforces it.

moto ignores the token. DynamoDB remembers it for 10 minutes after the request that used it: the
same token with the same items is answered without running them again (if they succeeded), and
the same token with *different* items is refused with IdempotentParameterMismatchException. A
caller that reuses a token for a second, different transaction (a settle retried without the
spend correction after a month rollover) works against moto and fails in AWS; with this it fails
here too. Installed by the local AWS process and the in-process test fixtures.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass

from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.responses import DynamoHandler

WINDOW_SECONDS = 600  # DynamoDB's idempotency window for a client request token


class IdempotentParameterMismatchError(DynamodbException):
    error_type = ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException"

    def __init__(self) -> None:
        super().__init__(
            self.error_type,
            message="Request token was used with different parameters within the idempotency "
            "window.",
        )


@dataclass(frozen=True)
class _Used:
    digest: str
    until: float
    succeeded: bool


_used: dict[tuple[str, str, str], _Used] = {}
_lock = threading.Lock()


def _transact_write_items(self: DynamoHandler) -> ActionResult:
    token = self.body.get("ClientRequestToken")
    if not token:
        return _original(self)
    items = json.dumps(self.body.get("TransactItems"), sort_keys=True)
    digest = hashlib.sha256(items.encode()).hexdigest()
    key = (self.current_account, self.region, str(token))
    now = time.monotonic()
    with _lock:
        seen = _used.get(key)
        if seen is not None and seen.until > now:
            if seen.digest != digest:
                raise IdempotentParameterMismatchError()
            if seen.succeeded:  # answered again, not run again
                return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
    try:
        result = _original(self)
    except Exception:
        _remember(key, _Used(digest, time.monotonic() + WINDOW_SECONDS, succeeded=False))
        raise
    _remember(key, _Used(digest, time.monotonic() + WINDOW_SECONDS, succeeded=True))
    return result


def _remember(key: tuple[str, str, str], used: _Used) -> None:
    with _lock:
        now = time.monotonic()
        for stale in [k for k, v in _used.items() if v.until <= now]:
            del _used[stale]
        _used[key] = used


_original = DynamoHandler.transact_write_items


def install() -> None:
    """Idempotent."""
    DynamoHandler.transact_write_items = _transact_write_items  # type: ignore[method-assign]


def reset() -> None:
    """Forget every token (a fresh moto, as each test's mock_aws is)."""
    with _lock:
        _used.clear()
