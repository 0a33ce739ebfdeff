"""The account's keys epoch: a counter on the account's limiter item that every change to the
account's keys moves (revoke, a rotation's shortened expiry, plan, budget).

Why: on the Function URL path a key is checked against the key table on every request, which is a
second DynamoDB call before the model. A process that has just checked a key instead remembers the
epoch it saw, and reserves with `keys_epoch = <that epoch>` as one more condition of the same
conditional write. The reservation then also vouches that nothing about the account's keys
changed: one call before the model, and revocation stays immediate (sparkai.auth.authenticator
says in which order the epoch and the key are read, and why).

Writers change the key records first and move the epoch after. The bump also pushes the item's
expiry (TTL) out past any a reservation writes, so the item, and with it the epoch, cannot expire
and come back at a value some process already saw. A trial account's item has no expiry at all
(it holds what the trial has spent, sparkai.limits.expressions), and the bump leaves it so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from sparkai.dynamo import TableStore, Value, conditional_check_failed, to_item
from sparkai.limits.gcra import TRIAL_SPENT
from sparkai.limits.published import EPOCH, PLAN, RPM, SPEND, TPM, TRIAL
from sparkai.plans import Limits

if TYPE_CHECKING:
    from sparkai.aws import DynamoDBFactory

# Past any expiry a reservation writes (the month's end plus a week, sparkai.limits.expressions).
_EPOCH_TTL_S = 40 * 24 * 3600


class KeyEpochs(TableStore):
    """Over the rate-limits table (one item per account)."""

    def __init__(
        self,
        table_name: str,
        client_factory: DynamoDBFactory,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(table_name, client_factory)
        self._clock = clock

    def bump(self, account_id: str) -> None:
        """Move the account's keys epoch: every key remembered at the old one is checked again."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"account_id": account_id}),
                UpdateExpression="ADD #ke :one SET #e = :exp",
                # An item holding published limits, or a trial's spend, never expires
                # (sparkai.limits.published, sparkai.limits.expressions).
                ConditionExpression="attribute_not_exists(#le) AND attribute_not_exists(#ts)",
                ExpressionAttributeNames={
                    "#ke": "keys_epoch",
                    "#e": "expires_at",
                    "#le": EPOCH,
                    "#ts": TRIAL_SPENT,
                },
                ExpressionAttributeValues=to_item(
                    {":one": 1, ":exp": math.ceil(self._clock()) + _EPOCH_TTL_S}
                ),
            )
        except ClientError as exc:
            if not conditional_check_failed(exc):
                raise
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"account_id": account_id}),
                UpdateExpression="ADD #ke :one",
                ExpressionAttributeNames={"#ke": "keys_epoch"},
                ExpressionAttributeValues=to_item({":one": 1}),
            )

    def publish_limits(
        self,
        account_id: str,
        plan: str,
        limits: Limits,
        spend_limit_usd: Decimal | None,
        trial_credit_usd: Decimal | None = None,
    ) -> int:
        """Make these the account's limits for every key at once (sparkai.limits.published); the
        new limits epoch, for the account's and the keys' copies."""
        names = {
            "#le": EPOCH,
            "#lp": PLAN,
            "#lr": RPM,
            "#lt": TPM,
            "#ls": SPEND,
            "#lc": TRIAL,
            "#e": "expires_at",
        }
        values: dict[str, Value] = {":one": 1, ":plan": plan, ":tpm": limits.tokens_per_minute}
        values[":rpm"] = limits.requests_per_minute
        sets = "#lp = :plan, #lr = :rpm, #lt = :tpm"
        removes = "#e"
        if spend_limit_usd is None:
            removes += ", #ls"
        else:
            sets += ", #ls = :spend"
            values[":spend"] = spend_limit_usd
        if trial_credit_usd is None:
            removes += ", #lc"
        else:
            sets += ", #lc = :trial"
            values[":trial"] = trial_credit_usd
        response = self._client.update_item(
            TableName=self._table,
            Key=to_item({"account_id": account_id}),
            UpdateExpression=f"ADD #le :one SET {sets} REMOVE {removes}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"][EPOCH]["N"])
