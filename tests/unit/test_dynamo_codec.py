"""The one DynamoDB codec every store writes and reads items with (sparkai.dynamo)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sparkai.dynamo import (
    from_item,
    get_decimal,
    get_int,
    get_str,
    set_or_remove,
    to_attr,
    to_item,
)


def test_values_round_trip_through_every_supported_type() -> None:
    values = {
        "s": "text",
        "n": 42,
        "money": Decimal("0.0000003"),
        "flag": True,
        "nested": {"list": [1, "two", False, None]},
    }
    item = to_item(values)
    assert item["n"] == {"N": "42"}
    assert item["flag"] == {"BOOL": True}  # a bool is not written as the number 1
    assert item["nested"] == {
        "M": {"list": {"L": [{"N": "1"}, {"S": "two"}, {"BOOL": False}, {"NULL": True}]}}
    }
    assert from_item(item) == {**values, "n": Decimal(42)}


def test_decimals_are_written_in_plain_notation() -> None:
    # moto (and any reader) reads 0.0000000 back exactly; 0E-7 it could not.
    assert to_attr(Decimal("0E-7")) == {"N": "0.0000000"}


def test_unset_attributes_are_left_out_of_an_item() -> None:
    assert to_item({"a": "x", "b": None}) == {"a": {"S": "x"}}


def test_floats_are_refused_because_money_is_exact() -> None:
    with pytest.raises(TypeError, match="float"):
        to_attr(0.1)  # type: ignore[arg-type]


def test_typed_reads_treat_absent_or_mistyped_attributes_as_none() -> None:
    item = {"s": {"S": "x"}, "n": {"N": "7"}}
    assert get_str(item, "s") == "x"
    assert get_str(item, "n") is None
    assert get_int(item, "n") == 7
    assert get_decimal(item, "n") == Decimal(7)
    assert get_int(None, "n") is None


def test_an_update_sets_values_and_removes_nones() -> None:
    update = set_or_remove({"plan": "pro", "spend_limit_usd": None})
    assert update == {
        "UpdateExpression": "SET #a0 = :v0 REMOVE #a1",
        "ExpressionAttributeNames": {"#a0": "plan", "#a1": "spend_limit_usd"},
        "ExpressionAttributeValues": {":v0": {"S": "pro"}},
    }
    assert "ExpressionAttributeValues" not in set_or_remove({"x": None})
