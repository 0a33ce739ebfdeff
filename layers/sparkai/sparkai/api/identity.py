"""Who is calling: from the API Gateway authorizer's context, or by checking the bearer key here."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from sparkai.api.dependencies import get_authenticator
from sparkai.auth.authenticator import Authenticator
from sparkai.config import get_chat_settings
from sparkai.errors import InvalidApiKeyError
from sparkai.keys.records import Principal
from sparkai.observability import logger
from sparkai.plans import Limits


def spend_limit_from_context(value: Any) -> Decimal | None:
    """The authorizer's "spend_limit_usd" (a decimal string; "" or absent = no limit)."""
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:  # decimal.InvalidOperation: a garbled context is refused as misrouted
        raise ValueError(value) from None


def principal_from_authorizer(event: dict[str, Any] | None) -> Principal:
    """The principal the authorizer put in requestContext.authorizer. Only API Gateway writes that
    field (Mangum passes the raw event), so a client cannot forge it; absent means misrouted."""
    context = ((event or {}).get("requestContext") or {}).get("authorizer") or {}
    try:
        return Principal(
            account_id=str(context["account_id"]),
            key_id=str(context["key_id"]),
            plan=str(context["plan"]),
            limits=Limits(int(context["rpm"]), int(context["tpm"])),
            key_hash=str(context.get("key_hash", "")),
            spend_limit_usd=spend_limit_from_context(context.get("spend_limit_usd")),
        )
    except (KeyError, TypeError, ValueError):
        logger.error("auth.missing_authorizer_context")
        raise InvalidApiKeyError(
            "Missing API key. Send it as 'Authorization: Bearer sk-spark-...'."
        ) from None


async def get_principal(
    request: Request, authenticator: Annotated[Authenticator, Depends(get_authenticator)]
) -> Principal:
    """FastAPI dependency: fails with InvalidApiKeyError (401) or AuthUnavailableError (503)."""
    if get_chat_settings().auth_mode == "authorizer":
        return principal_from_authorizer(request.scope.get("aws.event"))
    return await run_in_threadpool(authenticator.authenticate, request.headers.get("authorization"))
