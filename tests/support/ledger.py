"""Where the money is kept, read the one way every test checks a charge: the usage ledger's daily
rows (the usage table) and the limiter's spend counter for the month (the rate-limits table)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.conftest import TABLES


def ledger_rows(
    dynamodb: Any, account_id: str, table: str = TABLES["UsageTable"]
) -> list[dict[str, Any]]:
    """The account's ledger rows (one per day, model, key and price), decoded."""
    items = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :a",
        ExpressionAttributeValues={":a": {"S": account_id}},
        ConsistentRead=True,
    )["Items"]
    return [
        {
            "sk": i["sk"]["S"],
            "model": i["model"]["S"],
            "key_id": i["key_id"]["S"],
            "requests": int(i["requests"]["N"]),
            "prompt_tokens": int(i["prompt_tokens"]["N"]),
            "completion_tokens": int(i["completion_tokens"]["N"]),
            "cost_usd": Decimal(i["cost_usd"]["N"]),
            "price": i["price_per_1k_usd"]["N"],
        }
        for i in items
    ]


def ledger_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows summed: requests, prompt and completion tokens, and cost in exact USD."""
    return {
        "requests": sum(r["requests"] for r in rows),
        "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
        "completion_tokens": sum(r["completion_tokens"] for r in rows),
        "cost_usd": sum((r["cost_usd"] for r in rows), Decimal(0)),
    }


def spend_counter(
    dynamodb: Any, account_id: str, table: str = TABLES["RateLimitsTable"]
) -> Decimal:
    """The month's spend on the account's limiter item (what a spend limit is checked against);
    0 before the account's first request."""
    item = dynamodb.get_item(
        TableName=table, Key={"account_id": {"S": account_id}}, ConsistentRead=True
    ).get("Item", {})
    return Decimal(item["spend_usd"]["N"]) if "spend_usd" in item else Decimal(0)
