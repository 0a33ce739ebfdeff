"""Lambda entry point: the API Gateway REQUEST authorizer."""

from __future__ import annotations

from typing import Any

from sparkai.auth.authorizer import authorize
from sparkai.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize(event)
