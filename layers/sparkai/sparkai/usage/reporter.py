"""The usage report (GET /v1/usage, the dashboard, `sparkai-admin usage`) read from the ledger."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sparkai.dynamo import get_decimal, get_int, get_str, to_item
from sparkai.errors import InvalidRequestError
from sparkai.usage.pricing import usd

if TYPE_CHECKING:
    from sparkai.aws import DynamoDBFactory

MAX_DAYS = 93
_COUNTERS = ("requests", "prompt_tokens", "completion_tokens")


def _today(clock: Callable[[], float]) -> dt.date:
    return dt.datetime.fromtimestamp(clock(), dt.UTC).date()


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def parse_day(value: str, param: str) -> dt.date:
    try:
        # fromisoformat alone also takes week dates (2026-W01-1) and 20261101: YYYY-MM-DD only.
        if not _DAY.fullmatch(value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(
            f"Invalid value for '{param}': expected a date as YYYY-MM-DD (UTC), got {value[:20]!r}.",
            param=param,
        ) from None


def check_range(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise InvalidRequestError(f"'end' ({end}) is before 'start' ({start}).", param="end")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidRequestError(
            f"The range {start}..{end} is {(end - start).days + 1} days; at most {MAX_DAYS} days "
            "can be asked for at once.",
            param="end",
        )


def month_range(month: str) -> tuple[dt.date, dt.date]:
    """'2026-11' -> (2026-11-01, 2026-11-30)."""
    first = dt.date.fromisoformat(month + "-01")
    following = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def _sort_keys(start: dt.date, end: dt.date) -> tuple[str, str]:
    """The ledger's sort keys from `start` to `end`: row keys start with the date, so one key
    range covers the days ("~" sorts after every "#model#key#price" suffix)."""
    return start.isoformat(), end.isoformat() + "~"


def _cost(items: Iterable[dict[str, Any]]) -> Decimal:
    return sum((get_decimal(i, "cost_usd") or Decimal(0) for i in items), Decimal(0))


class UsageReporter:
    def __init__(
        self,
        usage_table: str,
        accounts_table: str,
        client_factory: DynamoDBFactory,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._usage_table = usage_table
        self._accounts_table = accounts_table
        self._client_factory = client_factory
        self._clock = clock

    def default_range(
        self, start: str | None = None, end: str | None = None
    ) -> tuple[dt.date, dt.date]:
        """The query's dates: both optional (first day of this UTC month .. today), validated."""
        today = _today(self._clock)
        first = parse_day(start, "start") if start is not None else today.replace(day=1)
        last = parse_day(end, "end") if end is not None else today
        check_range(first, last)
        return first, last

    def report(self, account_id: str, start: dt.date, end: dt.date) -> dict[str, Any]:
        """Exactly the GET /v1/usage body: one row per day, model and key; totals; the month."""
        check_range(start, end)
        items = list(self._rows(account_id, start, end))
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        for item in items:
            key = (
                get_str(item, "date") or "",
                get_str(item, "model") or "",
                get_str(item, "key_id") or "",
            )
            row = rows.setdefault(
                key,
                {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": Decimal(0)},
            )
            for name in _COUNTERS:
                row[name] += get_int(item, name) or 0
            row["cost"] += get_decimal(item, "cost_usd") or Decimal(0)
        data = [
            {
                "date": day,
                "model": model,
                "key_id": key_id,
                "requests": row["requests"],
                "prompt_tokens": row["prompt_tokens"],
                "completion_tokens": row["completion_tokens"],
                "total_tokens": row["prompt_tokens"] + row["completion_tokens"],
                "cost_usd": usd(row["cost"]),
            }
            for (day, model, key_id), row in sorted(rows.items())
        ]
        totals = {name: sum(r[name] for r in rows.values()) for name in _COUNTERS}
        limit = self._spend_limit(account_id)
        return {
            "object": "usage",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "data": data,
            "totals": {
                **totals,
                "total_tokens": totals["prompt_tokens"] + totals["completion_tokens"],
                "cost_usd": usd(sum((r["cost"] for r in rows.values()), Decimal(0))),
            },
            "spend_limit_usd": None if limit is None else usd(limit),
            "month_to_date_usd": usd(self._month_to_date(account_id, start, end, items)),
        }

    def _month_to_date(
        self, account_id: str, start: dt.date, end: dt.date, items: list[dict[str, Any]]
    ) -> Decimal:
        """This month so far. The default report (and the dashboard's) has read those days
        already (`items`, from start to end): their rows are summed rather than queried again."""
        today = _today(self._clock)
        first = today.replace(day=1)
        if not (start <= first and today <= end):
            return _cost(self._rows(account_id, first, today))
        low, high = _sort_keys(first, today)
        return _cost(i for i in items if low <= (get_str(i, "sk") or "") <= high)

    def _rows(self, account_id: str, start: dt.date, end: dt.date) -> Iterator[dict[str, Any]]:
        paginator = self._client_factory().get_paginator("query")
        low, high = _sort_keys(start, end)
        for page in paginator.paginate(
            TableName=self._usage_table,
            KeyConditionExpression="pk = :a AND sk BETWEEN :from AND :to",
            ExpressionAttributeValues=to_item({":a": account_id, ":from": low, ":to": high}),
            ConsistentRead=True,  # totals equal the answers just returned, not a second later
        ):
            yield from page.get("Items", [])

    def _spend_limit(self, account_id: str) -> Decimal | None:
        item = (
            self._client_factory()
            .get_item(
                TableName=self._accounts_table,
                Key=to_item({"account_id": account_id}),
                ProjectionExpression="spend_limit_usd",
            )
            .get("Item")
        )
        return get_decimal(item, "spend_limit_usd")
