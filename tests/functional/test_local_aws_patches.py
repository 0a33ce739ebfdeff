"""The two patches to moto's internals the local AWS endpoint keeps, because they fix what moto
answers (sparkai_local.moto_numbers, sparkai_local.moto_transactions): each is checked for what a
DynamoDB client sees, and for the moto internals it replaces, so a moto upgrade that moves them
fails here rather than silently unpatching (keep_alive, the third kept change, has its own tests
in test_local_aws_keep_alive.py)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import moto.dynamodb.models as models
import pytest
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType

from sparkai_local import moto_numbers, moto_transactions
from sparkai_local.aws_server import LocalAwsServer, provisioned_server
from sparkai_local.endpoint import LOCAL_TABLES, client

LIMITS = LOCAL_TABLES["RateLimitsTable"]  # hash key account_id


@pytest.fixture(scope="module")
def server() -> Iterator[LocalAwsServer]:
    with provisioned_server() as server:  # importing aws_server installs both patches
        yield server


@pytest.fixture(scope="module")
def dynamodb(server: LocalAwsServer) -> Any:
    return client("dynamodb", server.url)


def test_numbers_moto_wrote_in_exponent_form_add_up_exactly(dynamodb: Any) -> None:
    # Given a spark-1 token's price in USD, which moto writes back as "3E-7",
    key = {"account_id": {"S": "patch-numbers"}}
    for _ in range(3):
        answer = dynamodb.update_item(
            TableName=LIMITS,
            Key=key,
            UpdateExpression="ADD spend_usd :cost",
            ExpressionAttributeValues={":cost": {"N": "0.0000003"}},
            ReturnValues="ALL_NEW",
        )
    # then adding to it again is exact decimal arithmetic in plain notation, as DynamoDB's.
    assert answer["Attributes"]["spend_usd"] == {"N": "0.0000009"}
    answer = dynamodb.update_item(
        TableName=LIMITS,
        Key=key,
        UpdateExpression="SET spend_usd = spend_usd - :cost",
        ExpressionAttributeValues={":cost": {"N": "0.0000009"}},
        ReturnValues="ALL_NEW",
    )
    assert answer["Attributes"]["spend_usd"] == {"N": "0"}


def test_the_number_patch_is_what_moto_adds_and_subtracts_with() -> None:
    """moto's update expressions add and subtract through DynamoType's operators; if a moto
    release moves that arithmetic, the patch would no longer be on its path."""
    assert DynamoType.__add__ is moto_numbers._add
    assert DynamoType.__sub__ is moto_numbers._sub
    from moto.dynamodb.parsing import executors, validators

    # ADD (the executor) and SET x = x + / - y (the validator) use the operators.
    assert "existing_value + value_to_add" in inspect.getsource(executors)
    validating = inspect.getsource(validators)
    assert "left_operand + right_operand" in validating
    assert "left_operand - right_operand" in validating


def test_a_transaction_copies_the_items_it_touches_not_the_tables(server: LocalAwsServer) -> None:
    """moto backs a transaction up with `copy.deepcopy` of every table it names (a settle then
    costs time in proportion to the usage ledger); the patch swaps that module's `copy` so a
    table is not copied and puts the touched items back itself."""
    assert DynamoDBBackend.transact_write_items is moto_transactions._transact_write_items
    original = inspect.getsource(moto_transactions._original)
    assert "copy.deepcopy(" in original  # moto's backup still goes through its module's copy
    assert isinstance(models.copy, moto_transactions._TablesNotCopied)
    backend = models.dynamodb_backends["123456789012"]["us-east-1"]
    tables = list(backend.tables.values())
    assert tables, "the provisioned tables"
    assert all(models.copy.deepcopy(table) is table for table in tables)


def test_a_failed_transaction_leaves_the_ledger_and_the_limiter_as_they_were(
    dynamodb: Any,
) -> None:
    key = {"account_id": {"S": "patch-transactions"}}
    dynamodb.put_item(TableName=LIMITS, Item={**key, "n": {"N": "1"}})
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": LIMITS,
                        "Key": key,
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {
                    "Put": {
                        "TableName": LIMITS,
                        "Item": {"account_id": {"S": "patch-transactions-marker"}},
                        "ConditionExpression": "attribute_exists(account_id)",
                    }
                },
            ]
        )
    item = dynamodb.get_item(TableName=LIMITS, Key=key, ConsistentRead=True)["Item"]
    assert item["n"] == {"N": "1"}
    marker = {"account_id": {"S": "patch-transactions-marker"}}
    assert "Item" not in dynamodb.get_item(TableName=LIMITS, Key=marker)
