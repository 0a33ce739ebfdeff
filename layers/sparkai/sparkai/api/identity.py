"""Who is calling: from the API Gateway authorizer's context, or by checking the bearer key here.

Three ways in (SPARKAI_AUTH_MODE), one per function, so no request picks its own:
- "authorizer" (ChatFunction, Mangum): the raw event's requestContext.authorizer.
- "adapter" (GatewayStreamFunction, Lambda Web Adapter): the same context, which the adapter
  serialises into the x-amzn-request-context header. The adapter *inserts* that header over any
  the client sent (HeaderMap::insert in its lib.rs), and this function has no Function URL: only
  API Gateway may invoke it (its resource policy), so the header always carries API Gateway's
  context. The function that does have a Function URL runs "bearer" and never reads the header.
- "bearer" (ChatStreamFunction's Function URL, the local stack): the key is checked here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from sparkai.api.providers import get_authenticator
from sparkai.auth.authenticator import Authenticator, Remembered
from sparkai.config import get_chat_settings
from sparkai.errors import InvalidApiKeyError
from sparkai.keys.records import Principal
from sparkai.observability import logger
from sparkai.plans import Limits

ADAPTER_CONTEXT_HEADER = "x-amzn-request-context"
# Authorizer context keys this API's authorizer always returns (sparkai.auth.authorizer).
_REQUIRED = ("account_id", "key_id", "plan", "rpm", "tpm")


def adapter_request_context(headers: Any) -> dict[str, Any]:
    """API Gateway's requestContext as the Lambda Web Adapter forwards it ({} if absent/garbled).
    Only meaningful behind the adapter in "adapter" mode; see the module docstring."""
    raw = headers.get(ADAPTER_CONTEXT_HEADER)
    if not raw:
        return {}
    try:
        context = json.loads(raw)
    except ValueError:
        return {}
    return context if isinstance(context, dict) else {}


def _authorizer_fields(request_context: dict[str, Any]) -> dict[str, Any]:
    """The Lambda authorizer's context map. API Gateway puts it flat in requestContext.authorizer;
    the adapter's serializer (aws_lambda_events) may nest it under "lambda". Accept either."""
    authorizer = request_context.get("authorizer") or {}
    if not isinstance(authorizer, dict):
        return {}
    nested = authorizer.get("lambda")
    if isinstance(nested, dict) and all(k in nested for k in _REQUIRED):
        return nested
    return authorizer


def principal_from_request_context(request_context: dict[str, Any]) -> Principal:
    """The principal in a REST requestContext that went through our authorizer. A request whose
    context carries no authorizer answer (misrouted, or a non-REST invocation) is refused."""
    return principal_from_authorizer({"requestContext": request_context})


def usd_from_context(value: Any) -> Decimal | None:
    """The authorizer's "spend_limit_usd" or "trial_credit_usd" (a decimal string; "" or absent
    = no limit)."""
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:  # decimal.InvalidOperation: a garbled context is refused as misrouted
        raise ValueError(value) from None


def principal_from_authorizer(event: dict[str, Any] | None) -> Principal:
    """The principal the authorizer put in requestContext.authorizer. Only API Gateway writes that
    field (Mangum passes the raw event), so a client cannot forge it; absent means misrouted."""
    context = _authorizer_fields((event or {}).get("requestContext") or {})
    try:
        return Principal(
            account_id=str(context["account_id"]),
            key_id=str(context["key_id"]),
            plan=str(context["plan"]),
            limits=Limits(int(context["rpm"]), int(context["tpm"])),
            key_hash=str(context.get("key_hash", "")),
            spend_limit_usd=usd_from_context(context.get("spend_limit_usd")),
            trial_credit_usd=usd_from_context(context.get("trial_credit_usd")),
            key_prefix=str(context.get("key_prefix", "")),
            limits_epoch=int(context.get("limits_epoch") or 0),
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
    mode = get_chat_settings().auth_mode
    if mode == "authorizer":
        return principal_from_authorizer(request.scope.get("aws.event"))
    if mode == "adapter":
        return principal_from_request_context(adapter_request_context(request.headers))
    return await run_in_threadpool(authenticator.authenticate, request.headers.get("authorization"))


@dataclass(frozen=True)
class Caller:
    """Who is calling, known before a byte of the body is read (so an unknown key cannot make us
    read or parse a megabyte): a principal checked now (API Gateway's authorizer context, or the
    bearer key read from the store), or, on the bearer path, a key this process remembers
    (Authenticator.recent), which is not read again: its reservation is conditional on the
    account's keys epoch it was remembered at (sparkai.keys.epochs), so that one write vouches for
    it, and such a key never reaches the model unverified (sparkai.api.admission)."""

    authorization: str | None
    principal: Principal | None = None
    remembered: Remembered | None = None

    @property
    def known(self) -> Principal:
        """The principal as known now: checked, or as remembered."""
        if self.principal is not None:
            return self.principal
        assert self.remembered is not None, "a Caller is made with one of the two"
        return self.remembered.principal


async def authenticate(request: Request, authenticator: Authenticator) -> Caller:
    """The caller of a chat request (401 / 503 if there is none), before its body is read."""
    authorization = request.headers.get("authorization")
    if get_chat_settings().auth_mode == "bearer":
        remembered = authenticator.recent(authorization)
        if remembered is not None:
            return Caller(authorization, remembered=remembered)
    return Caller(authorization, principal=await get_principal(request, authenticator))


async def verified(caller: Caller, authenticator: Authenticator) -> Principal:
    """The caller's principal, the remembered key read from the store now (401 if it no longer
    works): for when the reservation that would vouch for it is not made."""
    if caller.principal is not None:
        return caller.principal
    return await run_in_threadpool(authenticator.authenticate, caller.authorization)
