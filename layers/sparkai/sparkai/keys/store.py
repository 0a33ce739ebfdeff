"""KeyStore: API key records in DynamoDB, looked up by the SHA-256 digest of the secret."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sparkai.errors import AuthUnavailableError
from sparkai.keys.material import digests_match, hash_key
from sparkai.keys.records import ApiKeyRecord
from sparkai.plans import Limits

BY_ACCOUNT_INDEX = "by_account"
BY_KEY_ID_INDEX = "by_key_id"


def _s(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return value["S"] if value and "S" in value else None


def _n(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name)
    return int(value["N"]) if value and "N" in value else None


def record_from_item(item: dict[str, Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=_s(item, "key_id") or "",
        key_hash=_s(item, "key_hash") or "",
        account_id=_s(item, "account_id") or "",
        prefix=_s(item, "prefix") or "",
        # A partial item (e.g. only last_used_at) is never treated as an active key.
        status=_s(item, "status") or "invalid",
        created_at=_n(item, "created_at") or 0,
        plan=_s(item, "plan") or "",
        limits=Limits(_n(item, "rpm") or 1, _n(item, "tpm") or 1),
        name=_s(item, "name") or "",
        expires_at=_n(item, "expires_at"),
        revoked_at=_n(item, "revoked_at"),
        last_used_at=_n(item, "last_used_at"),
        usage_key=_s(item, "usage_key"),
        spend_limit_usd=Decimal(item["spend_limit_usd"]["N"]) if "spend_limit_usd" in item else None,
    )


def item_from_record(record: ApiKeyRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        "key_hash": {"S": record.key_hash},
        "key_id": {"S": record.key_id},
        "account_id": {"S": record.account_id},
        "prefix": {"S": record.prefix},
        "status": {"S": record.status},
        "created_at": {"N": str(record.created_at)},
        "plan": {"S": record.plan},
        "rpm": {"N": str(record.limits.requests_per_minute)},
        "tpm": {"N": str(record.limits.tokens_per_minute)},
        "name": {"S": record.name},
    }
    for name in ("expires_at", "revoked_at", "last_used_at"):
        value = getattr(record, name)
        if value is not None:
            item[name] = {"N": str(value)}
    if record.usage_key:
        item["usage_key"] = {"S": record.usage_key}
    if record.spend_limit_usd is not None:
        item["spend_limit_usd"] = {"N": format(record.spend_limit_usd, "f")}
    return item


class KeyStore:
    """Reads and writes key records. Every read failure becomes AuthUnavailableError (fail closed)."""

    def __init__(self, table_name: str, client_factory: Callable[[], Any]) -> None:
        self._table = table_name
        self._client_factory = client_factory

    @property
    def _client(self) -> Any:
        return self._client_factory()

    def find_by_secret(self, secret: str) -> ApiKeyRecord | None:
        """The record for a presented key, or None. Consistent read: revocation is immediate."""
        digest = hash_key(secret)
        try:
            response = self._client.get_item(
                TableName=self._table, Key={"key_hash": {"S": digest}}, ConsistentRead=True
            )
        except (BotoCoreError, ClientError) as exc:
            raise AuthUnavailableError(
                "API keys cannot be checked right now; please retry."
            ) from exc
        item = response.get("Item")
        if item is None:
            return None
        record = record_from_item(item)
        # The lookup was by digest already; comparing again in constant time costs nothing and
        # keeps the check honest if the key schema ever changes.
        return record if digests_match(record.key_hash, secret) else None

    # -- admin operations -------------------------------------------------------------------------

    def put(self, record: ApiKeyRecord) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=item_from_record(record),
            ConditionExpression="attribute_not_exists(key_hash)",
        )

    def find_by_key_id(self, key_id: str) -> ApiKeyRecord | None:
        response = self._client.query(
            TableName=self._table,
            IndexName=BY_KEY_ID_INDEX,
            KeyConditionExpression="key_id = :k",
            ExpressionAttributeValues={":k": {"S": key_id}},
        )
        items = response.get("Items", [])
        if not items:
            return None
        full = self._client.get_item(
            TableName=self._table, Key={"key_hash": items[0]["key_hash"]}, ConsistentRead=True
        )
        return record_from_item(full["Item"]) if "Item" in full else None

    def list_for_account(self, account_id: str) -> Iterator[ApiKeyRecord]:
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            IndexName=BY_ACCOUNT_INDEX,
            KeyConditionExpression="account_id = :a",
            ExpressionAttributeValues={":a": {"S": account_id}},
        ):
            for item in page.get("Items", []):
                yield record_from_item(item)

    def update(self, key_hash: str, **attributes: str | int | Decimal | None) -> None:
        """Set (or, for None, remove) top-level attributes of one key record."""
        sets, removes = [], []
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        for i, (name, value) in enumerate(sorted(attributes.items())):
            names[f"#a{i}"] = name
            if value is None:
                removes.append(f"#a{i}")
            else:
                sets.append(f"#a{i} = :v{i}")
                values[f":v{i}"] = (
                    {"N": format(value, "f") if isinstance(value, Decimal) else str(value)}
                    if isinstance(value, int | Decimal)
                    else {"S": value}
                )
        expression = ""
        if sets:
            expression += "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"key_hash": {"S": key_hash}},
            "UpdateExpression": expression.strip(),
            "ExpressionAttributeNames": names,
            "ConditionExpression": "attribute_exists(key_hash)",
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        self._client.update_item(**kwargs)

    def touch(self, key_hash: str, now: int) -> None:
        """Record that a key was used (last_used_at only ever moves forward)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"key_hash": {"S": key_hash}},
                UpdateExpression="SET last_used_at = :now",
                ConditionExpression="attribute_exists(key_hash) AND (attribute_not_exists(last_used_at) OR last_used_at < :now)",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
