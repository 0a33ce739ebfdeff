"""KeyStore: API key records in DynamoDB, looked up by the SHA-256 digest of the secret."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sparkai.dynamo import (
    Item,
    TableStore,
    conditional_check_failed,
    get_decimal,
    get_int,
    get_str,
    to_item,
)
from sparkai.errors import AuthUnavailableError
from sparkai.keys.material import digests_match, hash_key
from sparkai.keys.records import ApiKeyRecord
from sparkai.plans import Limits

BY_ACCOUNT_INDEX = "by_account"
BY_KEY_ID_INDEX = "by_key_id"


def record_from_item(item: Mapping[str, Mapping[str, Any]]) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=get_str(item, "key_id") or "",
        key_hash=get_str(item, "key_hash") or "",
        account_id=get_str(item, "account_id") or "",
        prefix=get_str(item, "prefix") or "",
        # A partial item (e.g. only last_used_at) is never treated as an active key.
        status=get_str(item, "status") or "invalid",
        created_at=get_int(item, "created_at") or 0,
        plan=get_str(item, "plan") or "",
        limits=Limits(get_int(item, "rpm") or 1, get_int(item, "tpm") or 1),
        name=get_str(item, "name") or "",
        expires_at=get_int(item, "expires_at"),
        revoked_at=get_int(item, "revoked_at"),
        last_used_at=get_int(item, "last_used_at"),
        usage_key=get_str(item, "usage_key"),
        spend_limit_usd=get_decimal(item, "spend_limit_usd"),
        limits_epoch=get_int(item, "limits_epoch") or 0,
        trial_credit_usd=get_decimal(item, "trial_credit_usd"),
    )


def item_from_record(record: ApiKeyRecord) -> Item:
    return to_item(
        {
            "key_hash": record.key_hash,
            "key_id": record.key_id,
            "account_id": record.account_id,
            "prefix": record.prefix,
            "status": record.status,
            "created_at": record.created_at,
            "plan": record.plan,
            "rpm": record.limits.requests_per_minute,
            "tpm": record.limits.tokens_per_minute,
            "name": record.name,
            "expires_at": record.expires_at,
            "revoked_at": record.revoked_at,
            "last_used_at": record.last_used_at,
            "usage_key": record.usage_key or None,
            "spend_limit_usd": record.spend_limit_usd,
            "limits_epoch": record.limits_epoch or None,
            "trial_credit_usd": record.trial_credit_usd,
        }
    )


class KeyStore(TableStore):
    """Reads and writes key records. Every read failure becomes AuthUnavailableError (fail closed)."""

    def find_by_secret(self, secret: str) -> ApiKeyRecord | None:
        """The record for a presented key, or None. Consistent read: revocation is immediate."""
        digest = hash_key(secret)
        try:
            response = self._client.get_item(
                TableName=self._table, Key=to_item({"key_hash": digest}), ConsistentRead=True
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

    def get(self, key_hash: str) -> ApiKeyRecord | None:
        """The record stored under a digest (consistent read), or None."""
        item = self._client.get_item(
            TableName=self._table, Key=to_item({"key_hash": key_hash}), ConsistentRead=True
        ).get("Item")
        return None if item is None else record_from_item(item)

    def delete(self, key_hash: str) -> None:
        self._client.delete_item(TableName=self._table, Key=to_item({"key_hash": key_hash}))

    def find_by_key_id(self, key_id: str) -> ApiKeyRecord | None:
        response = self._client.query(
            TableName=self._table,
            IndexName=BY_KEY_ID_INDEX,
            KeyConditionExpression="key_id = :k",
            ExpressionAttributeValues=to_item({":k": key_id}),
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
            ExpressionAttributeValues=to_item({":a": account_id}),
        ):
            for item in page.get("Items", []):
                yield record_from_item(item)

    def update(self, key_hash: str, **attributes: str | int | Decimal | None) -> ApiKeyRecord:
        """Set (or, for None, remove) top-level attributes of one key record; the record as
        stored after the write."""
        return record_from_item(self._set_or_remove({"key_hash": key_hash}, attributes))

    def touch(self, key_hash: str, now: int) -> None:
        """Record that a key was used (last_used_at only ever moves forward)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"key_hash": key_hash}),
                UpdateExpression="SET last_used_at = :now",
                ConditionExpression="attribute_exists(key_hash) AND (attribute_not_exists(last_used_at) OR last_used_at < :now)",
                ExpressionAttributeValues=to_item({":now": now}),
            )
        except ClientError as exc:
            if not conditional_check_failed(exc):
                raise
