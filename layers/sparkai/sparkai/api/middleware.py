"""Pure-ASGI middleware (no BaseHTTPMiddleware: it would buffer streams): request ids on every
response, and a last-resort 500 in the documented error shape."""

from __future__ import annotations

import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sparkai.api.errors import internal_error_response
from sparkai.api.identity import adapter_request_context
from sparkai.config import get_chat_settings
from sparkai.observability import logger


def request_id_for(scope: Scope) -> str:
    """API Gateway's request id when behind it (so logs, access logs and the gateway agree), else
    a new one. Behind the Web Adapter ("adapter" mode) the id travels in its context header."""
    event = scope.get("aws.event") or {}
    context = event.get("requestContext") or {}
    if not context and get_chat_settings().auth_mode == "adapter":
        context = adapter_request_context(Headers(scope=scope))
    gateway_id = context.get("requestId")
    return str(gateway_id) if gateway_id else "req_" + uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception(
                "request.failed", extra={"request_id": request_id, "path": scope.get("path")}
            )
            if started:
                raise
            response = internal_error_response()
            await response(scope, receive, send_with_id)
