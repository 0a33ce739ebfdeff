"""The dashboard's account API: /v1/dashboard/... for the signed-in user's own account only.

Authenticated by a Cognito ID token alone (API keys are refused here, and ID tokens are refused
by the model routes: neither credential parses as the other). Thin: identify, call the service,
answer; every answer is `cache-control: no-store` (one of them carries a key's secret).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from sparkai.accounts.records import Account
from sparkai.api.dependencies import UsageReporterDep as ReporterDep
from sparkai.config import get_dashboard_settings
from sparkai.dashboard.service import DashboardService
from sparkai.dashboard.tokens import DashboardUser, user_from_authorizer
from sparkai.errors import InvalidRequestError, RequestTooLargeError, RouteNotFoundError
from sparkai.keys.records import ApiKeyRecord
from sparkai.plans import plan_name
from sparkai.usage.pricing import usd
from sparkai.wiring import get_dashboard_limiter, get_dashboard_service, get_token_verifier

# The dashboard's per-user budget lives in the rate-limits table beside the accounts' items,
# under a key no account id can take (those start with "acct_").
DASHBOARD_SUBJECT_PREFIX = "dashboard#"


async def get_dashboard_user(request: Request) -> DashboardUser:
    """The signed-in dashboard user (a Cognito ID token; never an API key), admitted by their
    per-minute request budget (429 when it is spent)."""
    settings = get_dashboard_settings()
    if settings.dashboard_auth == "off":  # this function holds no key-lifecycle permissions
        raise RouteNotFoundError(f"Unknown route: {request.method} {request.url.path}.")
    if settings.dashboard_auth == "authorizer":
        user = user_from_authorizer(request.scope.get("aws.event"), settings.user_pool_client_id)
    else:
        user = await run_in_threadpool(
            get_token_verifier().verify, request.headers.get("authorization")
        )
    await run_in_threadpool(
        get_dashboard_limiter().admit,
        DASHBOARD_SUBJECT_PREFIX + user.sub,
        settings.dashboard_requests_per_minute,
    )
    return user


# Here, not in sparkai.api.dependencies: only this router needs them (see app.create_app).
UserDep = Annotated[DashboardUser, Depends(get_dashboard_user)]
ServiceDep = Annotated[DashboardService, Depends(get_dashboard_service)]

MAX_BODY_BYTES = 4096
MAX_NAME_CHARS = 64
MAX_EXPIRY_DAYS = 365
MAX_GRACE_HOURS = 7 * 24
DEFAULT_GRACE_HOURS = 24
NO_STORE = {"cache-control": "no-store"}


router = APIRouter(prefix="/v1/dashboard")


def _answer(data: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=NO_STORE)


def key_json(record: ApiKeyRecord, now: float) -> dict[str, Any]:
    """What the dashboard shows of a key: never the secret or its digest."""
    return {
        "id": record.key_id,
        "object": "api_key",
        "name": record.name,
        "prefix": record.prefix,
        "status": record.state(now),
        "created_at": record.created_at,
        "last_used_at": record.last_used_at,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
    }


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise RequestTooLargeError(f"The request body is larger than {MAX_BODY_BYTES:,} bytes.")
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidRequestError("The body is not valid JSON.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise InvalidRequestError("The body must be a JSON object.")
    return data


def _optional_int(data: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequestError(
            f"Invalid value for '{name}': expected a whole number from {low} to {high}.",
            param=name,
        )
    return value


def _name(data: dict[str, Any]) -> str:
    name = data.get("name", "")
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise InvalidRequestError(
            f"Invalid value for 'name': up to {MAX_NAME_CHARS} printable characters.",
            param="name",
        )
    return name.strip()


@router.get("/account")
async def account(user: UserDep, service: ServiceDep, reporter: ReporterDep) -> JSONResponse:
    """Plan, per-minute limits, the month's spend and its limit (from the usage ledger)."""
    acct: Account = await run_in_threadpool(service.account_for, user)
    first, today = reporter.default_range(None, None)  # this UTC month so far
    month = await run_in_threadpool(reporter.report, acct.account_id, first, today)
    trial = await run_in_threadpool(service.trial, acct)
    return _answer(
        {
            "object": "account",
            "id": acct.account_id,
            "email": user.email,
            "plan": acct.plan,
            "plan_name": plan_name(acct.plan),
            "limits": {
                "requests_per_minute": acct.limits.requests_per_minute,
                "tokens_per_minute": acct.limits.tokens_per_minute,
            },
            "spend_limit_usd": month["spend_limit_usd"],
            "month_to_date_usd": month["month_to_date_usd"],
            # A trial account's one-off credit (null once paid): what it got and what is left.
            "trial": None
            if trial is None
            else {
                "credit_usd": usd(trial.credit_usd),
                "used_usd": usd(trial.used_usd),
                "remaining_usd": usd(trial.remaining_usd),
            },
            "email_verified": user.email_verified,
            "created_at": acct.created_at,
        }
    )


@router.get("/keys")
async def list_keys(user: UserDep, service: ServiceDep) -> JSONResponse:
    acct = await run_in_threadpool(service.account_for, user)
    records = await run_in_threadpool(service.list_keys, acct.account_id)
    now = service.now()
    return _answer({"object": "list", "data": [key_json(r, now) for r in records]})


@router.post("/keys")
async def create_key(request: Request, user: UserDep, service: ServiceDep) -> JSONResponse:
    """A new key; its secret is in this answer only (stored as a digest, never shown again)."""
    data = await _json_body(request)
    name = _name(data)
    days = _optional_int(data, "expires_in_days", 1, MAX_EXPIRY_DAYS)
    acct = await run_in_threadpool(service.account_for, user)
    created = await run_in_threadpool(
        lambda: service.create_key(
            user, acct.account_id, name=name, expires_in=days * 86400 if days else None
        )
    )
    return _answer(
        {"key": key_json(created.record, service.now()), "secret": created.secret}, status=201
    )


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, user: UserDep, service: ServiceDep) -> JSONResponse:
    acct = await run_in_threadpool(service.account_for, user)
    record = await run_in_threadpool(service.revoke_key, acct.account_id, key_id)
    return _answer({"key": key_json(record, service.now())})


@router.post("/keys/{key_id}/rotate")
async def rotate_key(
    key_id: str, request: Request, user: UserDep, service: ServiceDep
) -> JSONResponse:
    """A new key for the same account; the old one keeps working for `grace_hours` (default 24)."""
    data = await _json_body(request)
    hours = _optional_int(data, "grace_hours", 0, MAX_GRACE_HOURS)
    grace = (DEFAULT_GRACE_HOURS if hours is None else hours) * 3600
    acct = await run_in_threadpool(service.account_for, user)
    rotated = await run_in_threadpool(
        lambda: service.rotate_key(user, acct.account_id, key_id, grace_seconds=grace)
    )
    now = service.now()
    return _answer(
        {
            "key": key_json(rotated.created.record, now),
            "secret": rotated.created.secret,
            "previous": key_json(rotated.previous, now),
        },
        status=201,
    )


@router.get("/usage")
async def usage(
    user: UserDep,
    service: ServiceDep,
    reporter: ReporterDep,
    start: str | None = None,
    end: str | None = None,
) -> JSONResponse:
    """Exactly what GET /v1/usage answers for this account (the same ledger and code)."""
    first, last = reporter.default_range(start, end)
    acct = await run_in_threadpool(service.account_for, user)
    return _answer(await run_in_threadpool(reporter.report, acct.account_id, first, last))
