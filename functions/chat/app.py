"""Lambda entry point: the chat API behind API Gateway (buffered responses, via Mangum)."""

from __future__ import annotations

from mangum import Mangum

from sparkai.api.app import app

handler = Mangum(app, lifespan="off")
