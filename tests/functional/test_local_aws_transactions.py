"""The local AWS endpoint's TransactWriteItems backs up the items it touches instead of whole
tables (sparkai_local.moto_transactions); it must stay all-or-nothing, as DynamoDB's is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sparkai_local.aws_server import provisioned_server
from sparkai_local.endpoint import LOCAL_TABLES, client

LIMITS = LOCAL_TABLES["RateLimitsTable"]  # hash key only
USAGE = LOCAL_TABLES["UsageTable"]


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with provisioned_server() as server:
        yield client("dynamodb", server.url)


def _usage_key(dynamodb: Any) -> dict[str, Any]:
    """A key of the usage table, whatever its schema (hash, or hash + range)."""
    schema = dynamodb.describe_table(TableName=USAGE)["Table"]["KeySchema"]
    return {k["AttributeName"]: {"S": f"tx-{k['KeyType'].lower()}"} for k in schema}


def _get(dynamodb: Any, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    return dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


def test_a_failed_condition_leaves_every_item_as_it_was(dynamodb: Any) -> None:
    # Given an existing item in one table and a new key in another
    account = {"account_id": {"S": "acct_tx_fail"}}
    dynamodb.put_item(TableName=LIMITS, Item={**account, "n": {"N": "1"}})
    ledger = _usage_key(dynamodb)
    # When one transaction updates the first, creates the second and fails a third condition
    with pytest.raises(ClientError) as caught:
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": LIMITS,
                        "Key": account,
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": USAGE, "Item": {**ledger, "requests": {"N": "1"}}}},
                {
                    "ConditionCheck": {
                        "TableName": LIMITS,
                        "Key": {"account_id": {"S": "acct_tx_missing"}},
                        "ConditionExpression": "attribute_exists(account_id)",
                    }
                },
            ]
        )
    # Then nothing of it happened
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _get(dynamodb, LIMITS, account) == {**account, "n": {"N": "1"}}
    assert _get(dynamodb, USAGE, ledger) is None


def test_a_transaction_that_passes_applies_every_part(dynamodb: Any) -> None:
    account = {"account_id": {"S": "acct_tx_ok"}}
    dynamodb.put_item(TableName=LIMITS, Item={**account, "n": {"N": "1"}})
    ledger = {k: {"S": v["S"] + "-ok"} for k, v in _usage_key(dynamodb).items()}
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": LIMITS,
                    "Key": account,
                    "UpdateExpression": "SET n = n + :one",
                    "ConditionExpression": "n = :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {"Put": {"TableName": USAGE, "Item": {**ledger, "requests": {"N": "1"}}}},
        ]
    )
    assert _get(dynamodb, LIMITS, account) == {**account, "n": {"N": "2"}}
    assert _get(dynamodb, USAGE, ledger) == {**ledger, "requests": {"N": "1"}}


def test_a_request_token_reused_with_other_items_is_refused_as_in_dynamodb(dynamodb: Any) -> None:
    """DynamoDB keeps a ClientRequestToken for 10 minutes: the same items again are answered
    without running twice; other items are IdempotentParameterMismatchException (moto ignores
    tokens; sparkai_local.moto_request_tokens makes the local world refuse what AWS refuses)."""
    account = {"account_id": {"S": "acct_tx_token"}}

    def add(n: int) -> list[dict[str, Any]]:
        return [
            {
                "Update": {
                    "TableName": LIMITS,
                    "Key": account,
                    "UpdateExpression": "ADD n :n",
                    "ExpressionAttributeValues": {":n": {"N": str(n)}},
                }
            }
        ]

    dynamodb.transact_write_items(TransactItems=add(1), ClientRequestToken="settle-token-1")
    dynamodb.transact_write_items(TransactItems=add(1), ClientRequestToken="settle-token-1")
    assert _get(dynamodb, LIMITS, account) == {**account, "n": {"N": "1"}}  # applied once
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=add(2), ClientRequestToken="settle-token-1")
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert _get(dynamodb, LIMITS, account) == {**account, "n": {"N": "1"}}
