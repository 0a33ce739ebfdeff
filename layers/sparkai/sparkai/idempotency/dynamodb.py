"""The idempotency store in DynamoDB: one item per (account, key), claimed by a conditional put.

Item: pk "<account_id>#<key>" (account ids never contain '#', so keys cannot collide across
accounts), fingerprint, state running|done, owner, lease_until, expires_at (the table's TTL), and
once done the answer (a chat.completion as JSON: customer data, encrypted at rest by the table).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from sparkai.dynamo import Item, conditional_check_failed, get_str, to_item
from sparkai.errors import IdempotencyUnavailableError
from sparkai.idempotency.port import TTL_SECONDS, Claim, ClaimResult
from sparkai.observability import logger

if TYPE_CHECKING:
    from sparkai.aws import DynamoDBFactory

# A claim still "running" after this long belongs to a run that died (its Lambda timed out or was
# killed): the next request with the same key and body takes it over. Lambda's own maximum
# duration (15 minutes), so no live run, whatever its function's Timeout, is ever run twice.
DEFAULT_LEASE_SECONDS = 900

_CLAIM_CONDITION = (
    "attribute_not_exists(pk) OR expires_at < :now"
    " OR (#state = :running AND lease_until < :now AND fingerprint = :fp)"
)


class DynamoDBIdempotencyStore:
    def __init__(
        self,
        table_name: str,
        client_factory: DynamoDBFactory,
        *,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        ttl_seconds: int = TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table_name
        self._client_factory = client_factory
        self._lease = lease_seconds
        self._ttl = ttl_seconds
        self._clock = clock

    @staticmethod
    def _pk(account_id: str, key: str) -> Item:
        return to_item({"pk": f"{account_id}#{key}"})

    def claim(self, account_id: str, key: str, fingerprint: str) -> ClaimResult:
        now = int(self._clock())
        claim = Claim(account_id, key, fingerprint, owner=uuid.uuid4().hex)
        try:
            self._client_factory().put_item(
                TableName=self._table,
                Item={
                    **self._pk(account_id, key),
                    **to_item(
                        {
                            "fingerprint": fingerprint,
                            "state": "running",
                            "owner": claim.owner,
                            "created_at": now,
                            "lease_until": now + self._lease,
                            "expires_at": now + self._ttl,
                        }
                    ),
                },
                ConditionExpression=_CLAIM_CONDITION,
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_item(
                    {":now": now, ":running": "running", ":fp": fingerprint}
                ),
                # The item that blocked the claim comes back in the same round trip.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not conditional_check_failed(exc):
                raise self._unavailable(exc) from exc
            blocking = cast("dict[str, Any] | None", exc.response.get("Item"))
            existing = blocking or self._read(account_id, key)
            return self._outcome(existing, fingerprint, now)
        except BotoCoreError as exc:
            raise self._unavailable(exc) from exc
        return ClaimResult("claimed", claim=claim)

    def _read(self, account_id: str, key: str) -> dict[str, Any] | None:
        """The blocking item, for DynamoDB implementations that do not return it with the error."""
        try:
            response = self._client_factory().get_item(
                TableName=self._table, Key=self._pk(account_id, key), ConsistentRead=True
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from exc
        return cast("dict[str, Any] | None", response.get("Item"))

    @staticmethod
    def _outcome(item: dict[str, Any] | None, fingerprint: str, now: int) -> ClaimResult:
        if item is None:  # deleted (abandoned) between our write and our read: someone else's turn
            return ClaimResult("in_progress")
        if get_str(item, "fingerprint") != fingerprint:
            return ClaimResult("mismatch")
        answer = get_str(item, "answer")
        if get_str(item, "state") == "done" and answer is not None:
            return ClaimResult("replay", answer=json.loads(answer))
        return ClaimResult("in_progress")

    @staticmethod
    def _unavailable(exc: Exception) -> IdempotencyUnavailableError:
        logger.warning("idempotency.unavailable", extra={"error": type(exc).__name__})
        return IdempotencyUnavailableError(
            "The Idempotency-Key cannot be checked right now; please retry."
        )

    def complete(self, claim: Claim, answer: dict[str, Any]) -> None:
        try:
            self._client_factory().update_item(
                TableName=self._table,
                Key=self._pk(claim.account_id, claim.key),
                UpdateExpression="SET #state = :done, answer = :answer REMOVE lease_until",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#state": "state", "#owner": "owner"},
                ExpressionAttributeValues=to_item(
                    {
                        ":done": "done",
                        ":answer": json.dumps(answer, separators=(",", ":")),
                        ":owner": claim.owner,
                    }
                ),
            )
        except (BotoCoreError, ClientError) as exc:
            # The answer was produced and charged; the client has it. A retry finds the claim
            # running (409) until its lease ends, then runs again.
            logger.warning(
                "idempotency.complete_failed",
                extra={"account_id": claim.account_id, "error": type(exc).__name__},
            )

    def abandon(self, claim: Claim) -> None:
        try:
            self._client_factory().delete_item(
                TableName=self._table,
                Key=self._pk(claim.account_id, claim.key),
                ConditionExpression="#owner = :owner AND #state = :running",
                ExpressionAttributeNames={"#state": "state", "#owner": "owner"},
                ExpressionAttributeValues=to_item({":owner": claim.owner, ":running": "running"}),
            )
        except ClientError as exc:
            if not conditional_check_failed(exc):
                logger.warning(
                    "idempotency.abandon_failed",
                    extra={"account_id": claim.account_id, "error": type(exc).__name__},
                )
        except BotoCoreError as exc:
            logger.warning(
                "idempotency.abandon_failed",
                extra={"account_id": claim.account_id, "error": type(exc).__name__},
            )
