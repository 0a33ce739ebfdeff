"""The FastAPI-facing side of the wiring: each provider of `sparkai.wiring` (the composition root)
next to the `Annotated[..., Depends(...)]` alias routes name. Tests replace a provider through
`app.dependency_overrides[provider]`, or point the whole graph at moto / the local stack and call
`reset()`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from sparkai.api.identity import get_principal
from sparkai.api.providers import get_authenticator, get_chat_service
from sparkai.auth.authenticator import Authenticator
from sparkai.chat.service import ChatService
from sparkai.config import get_dashboard_settings
from sparkai.dashboard.service import DashboardService
from sparkai.dashboard.tokens import DashboardUser, user_from_authorizer
from sparkai.errors import RouteNotFoundError
from sparkai.keys.records import Principal
from sparkai.usage.reporter import UsageReporter
from sparkai.wiring import (
    get_dashboard_service,
    get_idempotency_store,
    get_token_verifier,
    get_usage_reporter,
    reset,
)

__all__ = [
    "AuthenticatorDep",
    "CallerDep",
    "ChatServiceDep",
    "DashboardServiceDep",
    "DashboardUserDep",
    "UsageReporterDep",
    "get_authenticator",
    "get_chat_service",
    "get_dashboard_service",
    "get_dashboard_user",
    "get_idempotency_store",
    "get_principal",
    "get_token_verifier",
    "get_usage_reporter",
    "reset",
]

AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]
# The caller of a model or usage route: authorizer context or a checked bearer key.
CallerDep = Annotated[Principal, Depends(get_principal)]
ChatServiceDep = Annotated[ChatService, Depends(get_chat_service)]
UsageReporterDep = Annotated[UsageReporter, Depends(get_usage_reporter)]
DashboardServiceDep = Annotated[DashboardService, Depends(get_dashboard_service)]


async def get_dashboard_user(request: Request) -> DashboardUser:
    """The signed-in dashboard user (a Cognito ID token; never an API key)."""
    settings = get_dashboard_settings()
    if settings.dashboard_auth == "off":  # this function holds no key-lifecycle permissions
        raise RouteNotFoundError(f"Unknown route: {request.method} {request.url.path}.")
    if settings.dashboard_auth == "authorizer":
        return user_from_authorizer(request.scope.get("aws.event"), settings.user_pool_client_id)
    return await run_in_threadpool(
        get_token_verifier().verify, request.headers.get("authorization")
    )


DashboardUserDep = Annotated[DashboardUser, Depends(get_dashboard_user)]
