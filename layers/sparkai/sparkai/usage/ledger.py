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
from typing import TYPE_CHECKING

from sparkai.dynamo import Item, number, to_item
from sparkai.usage.pricing import cost_usd

if TYPE_CHECKING:
    from types_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

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


def row_key(account_id: str, day: str, model: str, key_id: str, price: Decimal) -> Item:
    return to_item({"pk": account_id, "sk": f"{day}#{model}#{key_id}#{number(price)}"})


def aggregate_update(table: str, charge: Charge) -> TransactWriteItemTypeDef:
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
            "ExpressionAttributeValues": to_item(
                {
                    ":acct": charge.account_id,
                    ":day": charge.day,
                    ":model": charge.model,
                    ":key": charge.key_id,
                    ":price": charge.price_per_1k_usd,
                    ":one": 1,
                    ":pt": charge.prompt_tokens,
                    ":ct": charge.completion_tokens,
                    ":cost": charge.cost_usd,
                }
            ),
        }
    }


def marker_put(table: str, charge: Charge, now_s: int) -> TransactWriteItemTypeDef:
    """The TransactWriteItems `Put` that makes the settle of `charge.completion_id` happen once."""
    return {
        "Put": {
            "TableName": table,
            "Item": to_item(
                {
                    "pk": MARKER_PREFIX + charge.completion_id,
                    "sk": "settled",
                    "account_id": charge.account_id,
                    "cost_usd": charge.cost_usd,
                    "expires_at": now_s + MARKER_TTL_SECONDS,
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
