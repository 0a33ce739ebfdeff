"""The usage ledger's items in DynamoDB (UsageTable) and the settle writes that feed it.

Two kinds of item share the table:
- a daily aggregate per account, UTC day, model, key and price:
  pk = account_id, sk = "<YYYY-MM-DD>#<model>#<key_id>#<price_per_1k>", with ADDed counters
  (requests, prompt_tokens, completion_tokens, cost_usd) - the price is part of the key, so a
  price change starts a new row and every row carries the price it was charged at;
- a settle marker per completion: pk = "settled#<completion_id>", sk = "settled", with a TTL.
  It is Put under attribute_not_exists in the same transaction as the aggregate, so a replayed
  settle is cancelled as a whole and never counts twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sparkai.usage.pricing import cost_usd

MARKER_PREFIX = "settled#"
MARKER_TTL_SECONDS = 7 * 24 * 3600  # far longer than any retry of a settle


@dataclass(frozen=True)
class Charge:
    """What one answer used, priced: the ledger's input, written once per completion id."""

    completion_id: str
    account_id: str
    key_id: str
    model: str
    day: str  # UTC date the request was admitted (YYYY-MM-DD): the ledger row it lands in
    prompt_tokens: int
    completion_tokens: int
    price_per_1k_usd: Decimal

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost_usd(self) -> Decimal:
        return cost_usd(self.price_per_1k_usd, self.total_tokens)


def _n(value: int | Decimal) -> dict[str, str]:
    return {"N": format(value, "f") if isinstance(value, Decimal) else str(value)}


def row_key(account_id: str, day: str, model: str, key_id: str, price: Decimal) -> dict[str, Any]:
    return {"pk": {"S": account_id}, "sk": {"S": f"{day}#{model}#{key_id}#{format(price, 'f')}"}}


def aggregate_update(table: str, charge: Charge) -> dict[str, Any]:
    """The TransactWriteItems `Update` that adds one answer to its daily row."""
    return {
        "Update": {
            "TableName": table,
            "Key": row_key(
                charge.account_id, charge.day, charge.model, charge.key_id, charge.price_per_1k_usd
            ),
            "UpdateExpression": (
                "SET #acct = :acct, #day = :day, #model = :model, #key = :key, #price = :price "
                "ADD #req :one, #pt :pt, #ct :ct, #cost :cost"
            ),
            "ExpressionAttributeNames": {
                "#acct": "account_id",
                "#day": "date",
                "#model": "model",
                "#key": "key_id",
                "#price": "price_per_1k_usd",
                "#req": "requests",
                "#pt": "prompt_tokens",
                "#ct": "completion_tokens",
                "#cost": "cost_usd",
            },
            "ExpressionAttributeValues": {
                ":acct": {"S": charge.account_id},
                ":day": {"S": charge.day},
                ":model": {"S": charge.model},
                ":key": {"S": charge.key_id},
                ":price": _n(charge.price_per_1k_usd),
                ":one": _n(1),
                ":pt": _n(charge.prompt_tokens),
                ":ct": _n(charge.completion_tokens),
                ":cost": _n(charge.cost_usd),
            },
        }
    }


def marker_put(table: str, charge: Charge, now_s: int) -> dict[str, Any]:
    """The TransactWriteItems `Put` that makes the settle of `charge.completion_id` happen once."""
    return {
        "Put": {
            "TableName": table,
            "Item": {
                "pk": {"S": MARKER_PREFIX + charge.completion_id},
                "sk": {"S": "settled"},
                "account_id": {"S": charge.account_id},
                "cost_usd": _n(charge.cost_usd),
                "expires_at": _n(now_s + MARKER_TTL_SECONDS),
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
