"""The local AWS endpoint answers DynamoDB calls through a shorter path (aws_server's DynamoDB
dispatch skips moto's Flask app). Each test here is a way that path, or moto under it, could leak
one call into another, and asserts what a DynamoDB client sees."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sparkai_local.aws_server import LocalAwsServer, provisioned_server
from sparkai_local.endpoint import LOCAL_TABLES, client

LIMITS = LOCAL_TABLES["RateLimitsTable"]  # hash key account_id
BUMP = "SET n = n + :d, tag = :tag"  # one expression text, many values


@pytest.fixture(scope="module")
def server() -> Iterator[LocalAwsServer]:
    with provisioned_server() as server:
        yield server


@pytest.fixture(scope="module")
def dynamodb(server: LocalAwsServer) -> Any:
    return client("dynamodb", server.url)


def _key(name: str) -> dict[str, Any]:
    return {"account_id": {"S": name}}


def _bump(dynamodb: Any, name: str, delta: str, tag: str, **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = dynamodb.update_item(
        TableName=LIMITS,
        Key=_key(name),
        UpdateExpression=BUMP,
        ExpressionAttributeValues={
            ":d": {"N": delta},
            ":tag": {"S": tag},
            **extra.pop("values", {}),
        },
        ReturnValues="ALL_NEW",
        **extra,
    )
    return answer["Attributes"]


def _refused_twice(call: Callable[[], Any]) -> list[dict[str, str]]:
    """The error of two identical calls, each of which must be refused: a shortcut that kept a
    failure (or a success) would answer the second differently."""
    errors = []
    for _ in range(2):
        with pytest.raises(ClientError) as refused:
            call()
        errors.append(refused.value.response["Error"])
    return errors


def test_one_update_expression_text_applies_each_calls_own_values(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=LIMITS, Item={**_key("speed-a"), "n": {"N": "0"}})
    dynamodb.put_item(TableName=LIMITS, Item={**_key("speed-b"), "n": {"N": "100"}})
    first = _bump(dynamodb, "speed-a", "1", "first")
    second = _bump(dynamodb, "speed-b", "0.25", "second")
    third = _bump(dynamodb, "speed-a", "2", "third")
    assert (first["n"], first["tag"]) == ({"N": "1"}, {"S": "first"})
    assert (second["n"], second["tag"]) == ({"N": "100.25"}, {"S": "second"})
    assert (third["n"], third["tag"]) == ({"N": "3"}, {"S": "third"})


def test_one_condition_text_is_judged_with_each_calls_own_values(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=LIMITS, Item={**_key("speed-cond"), "n": {"N": "5"}})
    guarded = {"ConditionExpression": "n <= :cap", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    passed = _bump(dynamodb, "speed-cond", "1", "ok", values={":cap": {"N": "5"}}, **guarded)
    assert passed["n"] == {"N": "6"}
    with pytest.raises(ClientError) as refused:  # the same text, a cap the item is over now
        _bump(dynamodb, "speed-cond", "1", "no", values={":cap": {"N": "5"}}, **guarded)
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert refused.value.response["Item"]["n"] == {"N": "6"}
    again = _bump(dynamodb, "speed-cond", "1", "ok", values={":cap": {"N": "6"}}, **guarded)
    assert again["n"] == {"N": "7"}


def test_one_condition_text_is_judged_with_each_calls_own_names(dynamodb: Any) -> None:
    item = {**_key("speed-names"), "n": {"N": "1"}, "tag": {"S": "t"}}
    dynamodb.put_item(TableName=LIMITS, Item=item)

    def delete_if(name: str, value: dict[str, str]) -> None:
        dynamodb.delete_item(
            TableName=LIMITS,
            Key=_key("speed-names"),
            ConditionExpression="#a = :v",
            ExpressionAttributeNames={"#a": name},
            ExpressionAttributeValues={":v": value},
        )

    with pytest.raises(ClientError) as refused:  # n is 1, not "t"
        delete_if("n", {"S": "t"})
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    delete_if("tag", {"S": "t"})
    assert "Item" not in dynamodb.get_item(TableName=LIMITS, Key=_key("speed-names"))
    dynamodb.put_item(TableName=LIMITS, Item=item)
    garbled = _refused_twice(  # text that cannot be split into tokens: refused every time, alike
        lambda: dynamodb.delete_item(
            TableName=LIMITS, Key=_key("speed-names"), ConditionExpression="n = $"
        )
    )
    codes = [error["Code"] for error in garbled]
    assert codes[0] == codes[1]
    assert "Item" in dynamodb.get_item(TableName=LIMITS, Key=_key("speed-names"))


def _update_refused_twice(
    dynamodb: Any, name: str, expression: str, values: dict[str, Any]
) -> list[dict[str, str]]:
    return _refused_twice(
        lambda: dynamodb.update_item(
            TableName=LIMITS,
            Key=_key(name),
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )
    )


def test_an_invalid_update_expression_is_refused_every_time(dynamodb: Any) -> None:
    # a parse that failed is not remembered as a success
    refusals = _update_refused_twice(dynamodb, "speed-bad", "SET n = = :one", {":one": {"N": "1"}})
    for refused in refusals:
        assert refused["Code"] == "ValidationException"
    assert "Item" not in dynamodb.get_item(TableName=LIMITS, Key=_key("speed-bad"))


def test_an_unused_value_is_still_refused_when_the_text_was_seen_before(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=LIMITS, Item={**_key("speed-unused"), "n": {"N": "0"}})
    _bump(dynamodb, "speed-unused", "1", "seen")
    with pytest.raises(ClientError) as refused:
        _bump(dynamodb, "speed-unused", "1", "x", values={":spare": {"N": "1"}})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert ":spare" in refused.value.response["Error"]["Message"]


def test_a_passed_shape_check_does_not_pass_other_names_or_a_failed_one(dynamodb: Any) -> None:
    """One expression text, two name maps: the shape checks that passed for `#k` = n do not pass
    `#k` = account_id (the table's key); and a refused shape is refused again."""
    dynamodb.put_item(TableName=LIMITS, Item={**_key("speed-shape"), "n": {"N": "0"}})

    def set_k(name: str) -> dict[str, Any]:
        answer: dict[str, Any] = dynamodb.update_item(
            TableName=LIMITS,
            Key=_key("speed-shape"),
            UpdateExpression="SET #k = :v",
            ExpressionAttributeNames={"#k": name},
            ExpressionAttributeValues={":v": {"S": "x"}},
            ReturnValues="ALL_NEW",
        )
        return answer["Attributes"]

    assert set_k("n")["n"] == {"S": "x"}
    for refused in _refused_twice(lambda: set_k("account_id")):
        assert refused["Code"] == "ValidationException"
        assert "account_id" in refused["Message"]
    two_sets = _update_refused_twice(  # two SET clauses: refused every time, not only the first
        dynamodb, "speed-shape", "SET n = :v SET tag = :v", {":v": {"S": "y"}}
    )
    for twice in two_sets:
        assert twice["Code"] == "ValidationException"
    item = dynamodb.get_item(TableName=LIMITS, Key=_key("speed-shape"), ConsistentRead=True)
    assert item["Item"] == {**_key("speed-shape"), "n": {"S": "x"}}


def test_the_old_image_is_a_copy_not_the_item_after_the_update(dynamodb: Any) -> None:
    nested = {"M": {"parts": {"L": [{"N": "1"}, {"SS": ["a", "b"]}]}}}
    dynamodb.put_item(TableName=LIMITS, Item={**_key("speed-old"), "n": {"N": "1"}, "doc": nested})
    old = dynamodb.update_item(
        TableName=LIMITS,
        Key=_key("speed-old"),
        UpdateExpression="SET n = :two, doc.parts[0] = :nine ADD doc.extra :one",
        ExpressionAttributeValues={":two": {"N": "2"}, ":nine": {"N": "9"}, ":one": {"N": "1"}},
        ReturnValues="ALL_OLD",
    )["Attributes"]
    assert old == {**_key("speed-old"), "n": {"N": "1"}, "doc": nested}
    now = dynamodb.get_item(TableName=LIMITS, Key=_key("speed-old"), ConsistentRead=True)["Item"]
    assert now["n"] == {"N": "2"}
    assert now["doc"]["M"]["parts"]["L"][0] == {"N": "9"}
    assert now["doc"]["M"]["extra"] == {"N": "1"}


def test_a_failed_transaction_restores_nested_attributes(dynamodb: Any) -> None:
    nested = {"M": {"counts": {"L": [{"N": "1"}]}}}
    dynamodb.put_item(TableName=LIMITS, Item={**_key("speed-tx"), "doc": nested})
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": LIMITS,
                        "Key": _key("speed-tx"),
                        "UpdateExpression": "SET doc.counts[0] = :n",
                        "ExpressionAttributeValues": {":n": {"N": "2"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": LIMITS,
                        "Key": _key("speed-tx-missing"),
                        "ConditionExpression": "attribute_exists(account_id)",
                    }
                },
            ]
        )
    item = dynamodb.get_item(TableName=LIMITS, Key=_key("speed-tx"), ConsistentRead=True)["Item"]
    assert item["doc"] == nested


def test_errors_keep_dynamodbs_shape_on_the_short_path(dynamodb: Any) -> None:
    with pytest.raises(ClientError) as missing:
        dynamodb.get_item(TableName="no-such-table", Key=_key("x"))
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_other_services_still_answer_through_motos_app(server: LocalAwsServer) -> None:
    plans = client("apigateway", server.url).get_usage_plans()["items"]
    assert {p["name"] for p in plans} >= {"sparkai-local-starter", "sparkai-local-pro"}


VARIED_ITEM = {
    "s": {"S": "text"},
    "empty": {"S": ""},
    "n": {"N": "-12.5000"},
    "flag": {"BOOL": False},
    "nothing": {"NULL": True},
    "strings": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]},
    "blob": {"B": b"\x00\xffraw"},
    "blobs": {"BS": [b"one", b"two"]},
    "doc": {"M": {"inner": {"L": [{"S": "x"}, {"M": {}}, {"B": b"deep"}, {"L": []}]}}},
}


def test_items_of_every_type_come_back_as_they_went_in(dynamodb: Any) -> None:
    item = {**_key("speed-types"), **VARIED_ITEM}
    dynamodb.put_item(TableName=LIMITS, Item=item)
    got = dynamodb.get_item(TableName=LIMITS, Key=_key("speed-types"), ConsistentRead=True)
    assert got["Item"] == item
    updated = dynamodb.update_item(
        TableName=LIMITS,
        Key=_key("speed-types"),
        UpdateExpression="SET n = n + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert updated == {**item, "n": {"N": "-11.5"}}


def test_the_dispatch_leaves_no_cyclic_garbage_of_its_own(
    server: LocalAwsServer, dynamodb: Any
) -> None:
    """What the dispatch builds per call (the request, its environ) is freed when the call ends,
    not left to the cyclic collector. moto's own syntax trees do leave cycles (parent links):
    that is moto's, and only a matter of speed, so it is not asserted on."""
    dynamodb.put_item(TableName=LIMITS, Item={**_key("speed-gc"), "n": {"N": "1"}})
    update = {
        "TableName": LIMITS,
        "Key": _key("speed-gc"),
        "UpdateExpression": "SET tag = :t ADD n :d",
        "ExpressionAttributeValues": {":t": {"S": "x"}, ":d": {"N": "1"}},
    }

    def calls() -> None:
        dynamodb.update_item(**update, ConditionExpression="attribute_exists(n) AND n >= :d")
        dynamodb.transact_write_items(TransactItems=[{"Update": update}])

    calls()  # the first calls fill the caches
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(5):
            calls()
        gc.collect()
        left = [type(o) for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    server_side = {
        f"{t.__module__}.{t.__qualname__}"
        for t in left
        if t.__module__.startswith(("werkzeug.", "sparkai_local", "moto.core"))
    }
    assert server_side == set()
    item = dynamodb.get_item(TableName=LIMITS, Key=_key("speed-gc"), ConsistentRead=True)["Item"]
    assert item["n"] == {"N": "13"}  # every call applied: 1 + 6 x 2
