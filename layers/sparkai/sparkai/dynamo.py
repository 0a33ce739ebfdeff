"""DynamoDB's attribute-value format, both ways: the one codec every store uses.

Not boto3's TypeSerializer/TypeDeserializer: importing them loads all of boto3 (~128 ms measured
on this machine), which the authorizer's cold start cannot afford; botocore's clients alone do not
need it. Covers what the stores write: S, N (int and Decimal, never float: money is exact), BOOL,
NULL, M and L.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the stubs' types, at no import cost
    from botocore.exceptions import ClientError
    from types_boto3_dynamodb.client import DynamoDBClient
    from types_boto3_dynamodb.type_defs import AttributeValueTypeDef as AttributeValue

    from sparkai.aws import DynamoDBFactory

type Item = dict[str, AttributeValue]
# What a store writes: None means "leave the attribute out" (see to_item).
type Value = str | int | Decimal | bool | Mapping[str, Any] | Sequence[Any] | None


def number(value: int | Decimal) -> str:
    """DynamoDB's N text: plain notation, so 0E-7 is written as 0.0000000 (which every reader,
    moto included, reads back exactly)."""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def to_attr(value: Value) -> AttributeValue:
    """One Python value as an attribute value."""
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):  # before int: bool is an int
        return {"BOOL": value}
    if isinstance(value, int | Decimal):
        return {"N": number(value)}
    if value is None:
        return {"NULL": True}
    if isinstance(value, Mapping):
        return {"M": {name: to_attr(v) for name, v in value.items()}}
    if isinstance(value, Sequence):
        return {"L": [to_attr(v) for v in value]}
    raise TypeError(f"no DynamoDB attribute value for {type(value).__name__}")


def from_attr(attr: Mapping[str, Any]) -> Any:
    """One attribute value as Python: N is always a Decimal (as boto3 reads it)."""
    if "S" in attr:
        return attr["S"]
    if "N" in attr:
        return Decimal(attr["N"])
    if "BOOL" in attr:
        return bool(attr["BOOL"])
    if "NULL" in attr:
        return None
    if "M" in attr:
        return {name: from_attr(v) for name, v in attr["M"].items()}
    if "L" in attr:
        return [from_attr(v) for v in attr["L"]]
    raise TypeError(f"unsupported DynamoDB attribute value {sorted(attr)}")


def to_item(values: Mapping[str, Value]) -> Item:
    """A whole item (or Key, or ExpressionAttributeValues); None-valued attributes are left out,
    so an optional field that is unset is absent rather than NULL."""
    return {name: to_attr(value) for name, value in values.items() if value is not None}


def from_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {name: from_attr(attr) for name, attr in item.items()}


# -- typed reads of one attribute: absent (or of another type) is None --------------------------


def get_str(item: Mapping[str, Mapping[str, Any]] | None, name: str) -> str | None:
    attr = (item or {}).get(name)
    return attr["S"] if attr is not None and "S" in attr else None


def get_decimal(item: Mapping[str, Mapping[str, Any]] | None, name: str) -> Decimal | None:
    attr = (item or {}).get(name)
    return Decimal(attr["N"]) if attr is not None and "N" in attr else None


def get_int(item: Mapping[str, Mapping[str, Any]] | None, name: str) -> int | None:
    attr = (item or {}).get(name)
    return int(attr["N"]) if attr is not None and "N" in attr else None


def set_or_remove(attributes: Mapping[str, Value]) -> dict[str, Any]:
    """update_item's UpdateExpression, ExpressionAttributeNames and (when any value is set)
    ExpressionAttributeValues that set each top-level attribute, or remove it when its value is
    None. Names go through placeholders, so reserved words (name, status, plan) need no care."""
    sets, removes = [], []
    names: dict[str, str] = {}
    values: Item = {}
    for i, (name, value) in enumerate(sorted(attributes.items())):
        names[f"#a{i}"] = name
        if value is None:
            removes.append(f"#a{i}")
        else:
            sets.append(f"#a{i} = :v{i}")
            values[f":v{i}"] = to_attr(value)
    clauses = (["SET " + ", ".join(sets)] if sets else []) + (
        ["REMOVE " + ", ".join(removes)] if removes else []
    )
    update: dict[str, Any] = {
        "UpdateExpression": " ".join(clauses),
        "ExpressionAttributeNames": names,
    }
    if values:  # DynamoDB refuses an empty map
        update["ExpressionAttributeValues"] = values
    return update


def conditional_check_failed(exc: ClientError) -> bool:
    """Whether a write was refused by its ConditionExpression (not a fault)."""
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _lost_to_a_transaction(parsed: Mapping[str, Any]) -> bool:
    """Whether a DynamoDB error answer says the write lost a race with a transaction on its item
    (nothing was written): TransactionConflictException for a single-item write, a transaction
    cancelled with reason TransactionConflict."""
    code = parsed.get("Error", {}).get("Code")
    if code == "TransactionConflictException":
        return True
    reasons = parsed.get("CancellationReasons") or []
    return code == "TransactionCanceledException" and any(
        r.get("Code") == "TransactionConflict" for r in reasons
    )


CONFLICT_RETRIES = 4  # after the first try: ~10, 20, 40, 80 ms, jittered (a transaction's life)


def _conflict_retry_delay(response: Any = None, attempts: int = 0, **_: Any) -> float | None:
    """botocore's needs-retry hook: seconds to wait before sending a write that lost to a
    transaction again, or None (not this hook's to retry)."""
    if response is None or attempts > CONFLICT_RETRIES or not _lost_to_a_transaction(response[1]):
        return None
    return float(0.01 * 2 ** (attempts - 1) * (0.5 + random.random()))  # noqa: S311 - jitter only


def retry_transaction_conflicts[C](client: C) -> C:
    """`client` (a DynamoDB client), sending a write that lost a race with a transaction again.

    DynamoDB rejects a write that meets an ongoing transaction on its item, and botocore's
    standard retries do not cover it (moto never raises it either). One account's requests sent
    back to back meet exactly so: a reservation and the previous request's settle on the same
    limiter item. The same request is sent again, so a transaction keeps its ClientRequestToken."""
    events: Any = client.meta.events  # type: ignore[attr-defined]
    events.register(
        "needs-retry.dynamodb", _conflict_retry_delay, unique_id="sparkai-transaction-conflicts"
    )
    return client


class TableStore:
    """A store over one table. The client comes from the factory on every call, so SnapStart's
    restore (or a test) can swap the process's client under a long-lived store."""

    def __init__(self, table_name: str, client_factory: DynamoDBFactory) -> None:
        self._table = table_name
        self._client_factory = client_factory

    @property
    def _client(self) -> DynamoDBClient:
        return self._client_factory()

    def _set_or_remove(self, key: Mapping[str, str], attributes: Mapping[str, Value]) -> Item:
        """Set (or, for None, remove) top-level attributes of the existing item at `key`; the
        item as stored after the write (the same call: no read after it)."""
        response = self._client.update_item(
            TableName=self._table,
            Key=to_item(key),
            ConditionExpression=f"attribute_exists({next(iter(key))})",
            ReturnValues="ALL_NEW",
            **set_or_remove(attributes),
        )
        return response["Attributes"]
