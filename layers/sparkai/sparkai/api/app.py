"""The FastAPI application. `app` is what uvicorn serves; the chat Lambda wraps it in Mangum."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

from sparkai import __version__
from sparkai.api.errors import error_response
from sparkai.api.metrics import MetricsMiddleware
from sparkai.api.middleware import RequestContextMiddleware
from sparkai.api.openapi import install_openapi
from sparkai.api.routes import router
from sparkai.api.tracing import TracingMiddleware
from sparkai.api.usage_routes import router as usage_router
from sparkai.config import dashboard_enabled
from sparkai.errors import (
    InvalidRequestError,
    MethodNotAllowedError,
    RouteNotFoundError,
    SparkAIError,
)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SparkAIError)
    return error_response(exc)


def _allowed_methods(request: Request) -> str:
    """Every method the path supports. Starlette's own `Allow` names only the first route that
    matched the path (GET and POST of one path are separate routes here), so ask each route."""
    return ", ".join(
        method
        for method in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        response = error_response(
            MethodNotAllowedError(f"{request.method} is not allowed on {request.url.path}.")
        )
        response.headers["allow"] = _allowed_methods(request)  # RFC 9110 requires it on a 405
        return response
    if exc.status_code == 404:
        return error_response(
            RouteNotFoundError(f"Unknown route: {request.method} {request.url.path}.")
        )
    return error_response(InvalidRequestError(str(exc.detail)))


async def _validation_error(request: Request, exc: Exception) -> Response:
    return error_response(InvalidRequestError("Invalid request parameters."))


def create_app(dashboard: bool | None = None) -> FastAPI:
    """The API. The dashboard's routes are included where this function serves them
    (`dashboard`, by default SPARKAI_DASHBOARD_AUTH not "off": DashboardFunction and the local
    stack); elsewhere they are unknown routes (404), and their code is never imported."""
    app = FastAPI(
        title="SparkAI Stream",
        version=__version__,
        summary="Chat completions from the spark models, buffered or streamed.",
    )
    app.include_router(router)
    app.include_router(usage_router)
    if dashboard_enabled() if dashboard is None else dashboard:
        from sparkai.api.dashboard import router as dashboard_router

        app.include_router(dashboard_router)
    install_openapi(app)  # the hand-written contract, built on the first /openapi.json
    app.add_exception_handler(SparkAIError, _domain_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(MetricsMiddleware)  # inner: an unhandled error reaches it (counted 5xx)
    app.add_middleware(TracingMiddleware)  # outside metrics: annotates what metrics noted
    app.add_middleware(RequestContextMiddleware)
    return app


app = create_app()
