"""How much of a trial account's one-off credit is gone, as the limiter counts it (read-only).

The counter lives on the account's limiter item (sparkai.limits.expressions): each reservation adds
the request's worst-case cost and its settle corrects it to the real cost, so it is exactly what
the next reservation is checked against (settled answers, plus requests still running at their
worst case). The dashboard and `sparkai-admin account show` read it from here.
"""

from __future__ import annotations

from decimal import Decimal

from sparkai.dynamo import TableStore, get_decimal, to_item
from sparkai.limits.gcra import TRIAL_SPENT


class TrialCounter(TableStore):
    """Over the rate-limits table (one item per account)."""

    def spent(self, account_id: str) -> Decimal:
        item = self._client.get_item(
            TableName=self._table,
            Key=to_item({"account_id": account_id}),
            ProjectionExpression="#ts",
            ExpressionAttributeNames={"#ts": TRIAL_SPENT},
            ConsistentRead=True,
        ).get("Item")
        return get_decimal(item, TRIAL_SPENT) or Decimal(0)
