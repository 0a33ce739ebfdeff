"""GET /v1/usage: the calling account's metered usage from the ledger (docs/api.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from sparkai.api.dependencies import CallerDep, UsageReporterDep

router = APIRouter()


@router.get("/v1/usage")
async def get_usage(
    principal: CallerDep,
    reporter: UsageReporterDep,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """Daily rows by model and key, totals, the spend limit and this month's spend (UTC dates,
    both inclusive; default: this month so far; at most 93 days)."""
    first, last = reporter.default_range(start, end)
    return await run_in_threadpool(reporter.report, principal.account_id, first, last)
