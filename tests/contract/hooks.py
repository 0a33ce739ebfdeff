"""Schemathesis hooks for the contract tier (loaded through SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis

IDEMPOTENCY_KEY = "Idempotency-Key"


def _valid_key(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 255 and all(" " <= c <= "~" for c in value)


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: Any) -> None:
    """Generated cases reuse a few small Idempotency-Key values with different bodies, which the
    API rightly answers 422 (`idempotency_key_reused`). Make each valid key unique so a valid case
    stays valid; invalid keys (negative cases) are sent as generated."""
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == IDEMPOTENCY_KEY.lower() and _valid_key(headers[name]):
            headers[name] = f"{headers[name][:200]}~{uuid.uuid4().hex}"
