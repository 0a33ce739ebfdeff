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
and come back at a value some process already saw.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sparkai.dynamo import TableStore, to_item

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
        self._client.update_item(
            TableName=self._table,
            Key=to_item({"account_id": account_id}),
            UpdateExpression="ADD #ke :one SET #e = :exp",
            ExpressionAttributeNames={"#ke": "keys_epoch", "#e": "expires_at"},
            ExpressionAttributeValues=to_item(
                {":one": 1, ":exp": math.ceil(self._clock()) + _EPOCH_TTL_S}
            ),
        )
