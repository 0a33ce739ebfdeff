"""GET /v1/usage: the account's metered usage by day, model and key, with exact decimal costs."""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Union

import httpx

from ._errors import request_id_of
from ._resources import RequestOptions, json_body

if TYPE_CHECKING:
    from ._client import AsyncSparkAI, SparkAI

__all__ = ["AsyncUsageResource", "UsageReport", "UsageResource", "UsageRow", "UsageTotals"]

USAGE_PATH = "/v1/usage"
DateParam = Union[datetime.date, str, None]


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _decimal(value: Any) -> Decimal | None:
    """Costs travel as decimal strings; never through float."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _counts(data: Mapping[str, Any]) -> dict[str, Any]:
    """What a row and the totals share: request and token counts, and the exact cost."""
    return {
        "requests": _int(data, "requests"),
        "prompt_tokens": _int(data, "prompt_tokens"),
        "completion_tokens": _int(data, "completion_tokens"),
        "total_tokens": _int(data, "total_tokens"),
        "cost_usd": _decimal(data.get("cost_usd")) or Decimal(0),
    }


@dataclass
class UsageRow:
    date: str
    model: str
    key_id: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: Decimal

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UsageRow:
        return cls(
            date=str(data.get("date") or ""),
            model=str(data.get("model") or ""),
            key_id=str(data.get("key_id") or ""),
            **_counts(data),
        )


@dataclass
class UsageTotals:
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: Decimal

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UsageTotals:
        return cls(**_counts(data))


@dataclass
class UsageReport:
    """The usage between two dates (inclusive, UTC); iterable over its rows."""

    start: str
    end: str
    data: list[UsageRow]
    totals: UsageTotals
    spend_limit_usd: Decimal | None  # None: no monthly spend limit
    month_to_date_usd: Decimal
    object: str = "usage"
    request_id: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> UsageReport:
        rows = data.get("data")
        totals = data.get("totals")
        return cls(
            start=str(data.get("start") or ""),
            end=str(data.get("end") or ""),
            data=[UsageRow.from_dict(r) for r in rows if isinstance(r, Mapping)]
            if isinstance(rows, list)
            else [],
            totals=UsageTotals.from_dict(totals if isinstance(totals, Mapping) else {}),
            spend_limit_usd=_decimal(data.get("spend_limit_usd")),
            month_to_date_usd=_decimal(data.get("month_to_date_usd")) or Decimal(0),
            object=str(data.get("object") or "usage"),
            request_id=request_id,
        )

    def __iter__(self) -> Iterator[UsageRow]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def _date(value: DateParam, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):  # a datetime is a date too; its day is meant
        value = value.date()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ValueError(f"{name} must be a datetime.date or 'YYYY-MM-DD', got {value!r}.")


def usage_path(start: DateParam, end: DateParam) -> str:
    params = {k: v for k, v in (("start", _date(start, "start")), ("end", _date(end, "end"))) if v}
    return USAGE_PATH + ("?" + str(httpx.QueryParams(params)) if params else "")


class UsageResource:
    """GET /v1/usage."""

    def __init__(self, client: SparkAI) -> None:
        self._client = client

    def retrieve(
        self,
        *,
        start: DateParam = None,
        end: DateParam = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> UsageReport:
        """Usage from `start` to `end` (inclusive; default: this UTC month so far; at most 93
        days)."""
        response = self._client._request(
            RequestOptions("GET", usage_path(start, end), timeout=timeout, max_retries=max_retries)
        )
        return UsageReport.from_dict(
            json_body(response), request_id=request_id_of(response.headers)
        )


class AsyncUsageResource:
    """GET /v1/usage (async)."""

    def __init__(self, client: AsyncSparkAI) -> None:
        self._client = client

    async def retrieve(
        self,
        *,
        start: DateParam = None,
        end: DateParam = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> UsageReport:
        response = await self._client._request(
            RequestOptions("GET", usage_path(start, end), timeout=timeout, max_retries=max_retries)
        )
        return UsageReport.from_dict(
            json_body(response), request_id=request_id_of(response.headers)
        )
