"""GET /v1/usage: the calling account's metered usage from the ledger (docs/api.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from sparkai.api.after_body import after_body
from sparkai.api.dependencies import CallerDep, UsageReporterDep

router = APIRouter()


# start/end are read from the request, not declared: a declared parameter costs every cold start
# FastAPI's pydantic.v1 import (see routes.py); the reporter validates them (docs/api.md).
@router.get("/v1/usage", response_model=None)
async def get_usage(
    request: Request, principal: CallerDep, reporter: UsageReporterDep
) -> dict[str, Any]:
    """Daily rows by model and key, totals, the spend limit and this month's spend (UTC dates,
    both inclusive; default: this month so far; at most 93 days)."""
    # Answers this process has already delivered are in the report (docs/api.md), even where
    # their settle runs after the body (the local stack).
    await after_body.settled()
    query = request.query_params
    first, last = reporter.default_range(query.get("start"), query.get("end"))
    return await run_in_threadpool(reporter.report, principal.account_id, first, last)
