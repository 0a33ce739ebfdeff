"""Lambda entry point: the API Gateway REQUEST authorizer."""

from __future__ import annotations

from typing import Any

import sparkai.snapstart as snapstart
from sparkai.auth.authorizer import authorize
from sparkai.observability import logger

# Under SnapStart the snapshot holds boto3 and the key store's client; restore gives fresh ones.
snapstart.prepare(warm=snapstart.warm_dynamodb)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize(event)
