"""The FastAPI-facing side of the wiring: each provider of `sparkai.wiring` (the composition root)
next to the `Annotated[..., Depends(...)]` alias routes name. Tests replace a provider through
`app.dependency_overrides[provider]`, or point the whole graph at moto / the local stack and call
`reset()`. The dashboard's own (its user, its service) live in sparkai.api.dashboard, so a chat
function, which does not route the dashboard, never imports its code."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from sparkai.api.identity import get_principal
from sparkai.api.providers import get_authenticator, get_chat_service
from sparkai.auth.authenticator import Authenticator
from sparkai.chat.service import ChatService
from sparkai.keys.records import Principal
from sparkai.usage.reporter import UsageReporter
from sparkai.wiring import (
    get_idempotency_store,
    get_usage_reporter,
    reset,
)

__all__ = [
    "AuthenticatorDep",
    "CallerDep",
    "ChatServiceDep",
    "UsageReporterDep",
    "get_authenticator",
    "get_chat_service",
    "get_idempotency_store",
    "get_principal",
    "get_usage_reporter",
    "reset",
]

AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]
# The caller of a model or usage route: authorizer context or a checked bearer key.
CallerDep = Annotated[Principal, Depends(get_principal)]
ChatServiceDep = Annotated[ChatService, Depends(get_chat_service)]
UsageReporterDep = Annotated[UsageReporter, Depends(get_usage_reporter)]
