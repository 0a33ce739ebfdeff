"""Lambda entry point: the chat API behind API Gateway (buffered responses, via Mangum)."""

from __future__ import annotations

import asyncio
from typing import Any

from mangum import Mangum

import sparkai.snapstart as snapstart
from sparkai.api.app import app

_asgi = Mangum(app, lifespan="off")
# Under SnapStart the snapshot holds the app, boto3 and a DynamoDB client; restore reseeds.
snapstart.prepare(warm=snapstart.warm_dynamodb)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Mangum 0.22 calls asyncio.get_event_loop() on every request, which raises once anything in
    # the process has run asyncio.run() (it leaves no loop set): keep one set, as Mangum's init does.
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    return _asgi(event, context)
