"""AccountStore: account records in the AccountsTable, and the dashboard users' links to them.

The table also holds one link item per dashboard user: account_id = "user#<sub>" ->
linked_account_id. Real account ids always start with "acct_", so the two never collide, and the
link costs no extra table (single-table pattern; one GetItem per dashboard call).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from sparkai.accounts.records import Account
from sparkai.dynamo import (
    Item,
    TableStore,
    conditional_check_failed,
    get_decimal,
    get_int,
    get_str,
    to_item,
)
from sparkai.plans import Limits

LINK_PREFIX = "user#"
# On the account item: the digests of the account's keys that count against its active-key cap,
# a string set read consistently (the keys table's by_account index lags) and grown under a
# size condition, so racing key creations cannot pass the cap (sparkai.accounts.service).
ACTIVE_KEYS = "active_key_hashes"
# Set on every account created since the count exists: its keys have all been counted (an absent
# set is then none). An account without it predates the count, which starts from its keys once.
KEYS_COUNTED = "keys_counted"


def item_from_account(account: Account) -> Item:
    return to_item(
        {
            "account_id": account.account_id,
            "name": account.name,
            "plan": account.plan,
            "rpm": account.limits.requests_per_minute,
            "tpm": account.limits.tokens_per_minute,
            "created_at": account.created_at,
            "usage_key_id": account.usage_key_id,
            "usage_key": account.usage_key,
            "spend_limit_usd": account.spend_limit_usd,
            "limits_epoch": account.limits_epoch or None,
            "trial_credit_usd": account.trial_credit_usd,
            KEYS_COUNTED: True,
        }
    )


def account_from_item(item: Mapping[str, Mapping[str, Any]]) -> Account:
    return Account(
        account_id=get_str(item, "account_id") or "",
        name=get_str(item, "name") or "",
        plan=get_str(item, "plan") or "",
        limits=Limits(get_int(item, "rpm") or 0, get_int(item, "tpm") or 0),
        created_at=get_int(item, "created_at") or 0,
        usage_key_id=get_str(item, "usage_key_id") or "",
        usage_key=get_str(item, "usage_key") or "",
        spend_limit_usd=get_decimal(item, "spend_limit_usd"),
        limits_epoch=get_int(item, "limits_epoch") or 0,
        trial_credit_usd=get_decimal(item, "trial_credit_usd"),
    )


class AccountStore(TableStore):
    """Reads and writes account records (consistent reads: a plan change is seen at once)."""

    def get(self, account_id: str) -> Account | None:
        item = self._client.get_item(
            TableName=self._table, Key=to_item({"account_id": account_id}), ConsistentRead=True
        ).get("Item")
        return None if item is None else account_from_item(item)

    def create(self, account: Account) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=item_from_account(account),
            ConditionExpression="attribute_not_exists(account_id)",
        )

    def update(self, account_id: str, **attributes: str | int | Decimal | None) -> None:
        """Set (or, for None, remove) top-level attributes of one account record."""
        self._set_or_remove({"account_id": account_id}, attributes)

    def claim_usage_key(self, account_id: str, key_id: str, value: str) -> bool:
        """Record the account's API Gateway key unless it has one already; False when another
        request recorded its own first (two first key creations at once). Writes exactly these
        two attributes (template.yaml's dynamodb:Attributes condition on the dashboard's role)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"account_id": account_id}),
                UpdateExpression="SET #id = :id, #value = :value",
                ConditionExpression=(
                    "attribute_exists(#account) AND "
                    "(attribute_not_exists(#id) OR #id = :none)"  # created with "" (no key yet)
                ),
                ExpressionAttributeNames={
                    "#account": "account_id",
                    "#id": "usage_key_id",
                    "#value": "usage_key",
                },
                ExpressionAttributeValues=to_item({":id": key_id, ":value": value, ":none": ""}),
            )
        except ClientError as exc:
            if not conditional_check_failed(exc):
                raise
            return False
        return True

    # -- the active-key count -----------------------------------------------------------------

    def counted_keys(self, account_id: str) -> set[str] | None:
        """The key digests counted on the account (None: never counted, an older account)."""
        item = self._client.get_item(
            TableName=self._table,
            Key=to_item({"account_id": account_id}),
            ProjectionExpression="#k, #c",
            ExpressionAttributeNames={"#k": ACTIVE_KEYS, "#c": KEYS_COUNTED},
            ConsistentRead=True,
        ).get("Item")
        if item is not None and ACTIVE_KEYS in item:
            return set(item[ACTIVE_KEYS].get("SS", []))
        return set() if item is not None and KEYS_COUNTED in item else None

    def count_keys(
        self, account_id: str, key_hashes: set[str], *, limit: int | None = None
    ) -> bool:
        """Count keys on the account; with `limit` (for one key), only while fewer than `limit`
        are counted, or when it is counted already (a concurrent creation starting the count
        from the account's keys may have counted it): False, and nothing written, otherwise."""
        condition = "attribute_exists(account_id)"
        values: dict[str, Any] = {":h": {"SS": sorted(key_hashes)}}
        if limit is not None:
            (key_hash,) = key_hashes
            condition += " AND (attribute_not_exists(#k) OR size(#k) < :max OR contains(#k, :mine))"
            values[":max"] = {"N": str(limit)}
            values[":mine"] = {"S": key_hash}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"account_id": account_id}),
                UpdateExpression="ADD #k :h",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#k": ACTIVE_KEYS},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if not conditional_check_failed(exc):
                raise
            return False
        return True

    def uncount_keys(self, account_id: str, key_hashes: set[str]) -> None:
        """Stop counting these keys (revoked or expired); absent ones are ignored."""
        if not key_hashes:
            return
        self._client.update_item(
            TableName=self._table,
            Key=to_item({"account_id": account_id}),
            UpdateExpression="DELETE #k :h",
            ExpressionAttributeNames={"#k": ACTIVE_KEYS},
            ExpressionAttributeValues={":h": {"SS": sorted(key_hashes)}},
        )

    def delete(self, account_id: str) -> None:
        self._client.delete_item(TableName=self._table, Key=to_item({"account_id": account_id}))

    # -- dashboard users -----------------------------------------------------------------------

    def linked_account_id(self, sub: str) -> str | None:
        """The account a dashboard user (Cognito `sub`) is linked to, if any."""
        item = self._client.get_item(
            TableName=self._table,
            Key=to_item({"account_id": LINK_PREFIX + sub}),
            ConsistentRead=True,
        ).get("Item")
        return get_str(item, "linked_account_id")

    def link(self, sub: str, account_id: str, *, email: str, now: int) -> bool:
        """Link a user to an account; False when the user was linked already (another first call
        won the race)."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(
                    {
                        "account_id": LINK_PREFIX + sub,
                        "linked_account_id": account_id,
                        "email": email,
                        "created_at": now,
                    }
                ),
                ConditionExpression="attribute_not_exists(account_id)",
            )
        except ClientError as exc:
            if not conditional_check_failed(exc):
                raise
            return False
        return True
