"""The local AWS process parses a ConditionExpression once per (text, names, value types) and puts
each call's own values into a copy of that parse (sparkai_local.moto_speed). Every condition here
is judged both ways, moto's own parse and the template's, over the same items, call after call
with new values: the verdicts, the errors and the placeholders found must be the same."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from sparkai_local import moto_speed

moto_speed.install()
ConditionExpressionParser = moto_speed.ConditionExpressionParser

NAMES = {"#n": "n", "#t": "tag", "#l": "list", "#m": "map", "#i": "inner"}
CONDITIONS = [
    "#n <= :a",
    "(attribute_not_exists(#n) OR #n <= :a) AND (attribute_not_exists(#t) OR #t <> :s) AND #n = :a",
    "#n BETWEEN :a AND :b",
    "#t IN (:s, :s2, :s3)",
    "begins_with(#t, :s) OR contains(#l, :a)",
    "attribute_type(#m, :type) AND size(#t) > :a",
    "NOT (#n > :b) AND #m.#i = :s",
    "#n = :a OR #n = :b OR #t = :s",
]
ITEMS = [
    {},
    {"n": {"N": "5"}},
    {"n": {"N": "5"}, "tag": {"S": "apple"}, "list": {"L": [{"N": "3"}]}},
    {"n": {"N": "-1.5"}, "tag": {"S": "b"}, "map": {"M": {"inner": {"S": "apple"}}}},
    {"n": {"N": "10"}, "tag": {"S": "apricot"}, "map": {"M": {"inner": {"S": "x"}}}},
]
VALUE_SETS = [
    {":a": "5", ":b": "10", ":s": "ap", ":s2": "b", ":s3": "apple", ":type": "M"},
    {":a": "4", ":b": "4.5", ":s": "apple", ":s2": "apricot", ":s3": "c", ":type": "S"},
    {":a": "-1.5", ":b": "99", ":s": "x", ":s2": "b", ":s3": "z", ":type": "M"},
    {":a": "3", ":b": "0", ":s": "b", ":s2": "y", ":s3": "apple", ":type": "L"},
]


def _values(plain: dict[str, str]) -> dict[str, dict[str, str]]:
    return {
        name: {"N": value} if name in (":a", ":b") else {"S": value}
        for name, value in plain.items()
    }


def _item(attributes: dict[str, Any]) -> Item:
    return Item(DynamoType({"S": "k"}), None, {"account_id": {"S": "k"}, **attributes})


def _judge(parser: Any, parse: Any) -> tuple[Any, ...]:
    """What a parse decides for every item (or the error it raises), and what it found."""
    try:
        op = parse(parser)
    except Exception as exc:  # compared as type and message
        return ("error", type(exc).__name__, str(exc))
    verdicts = []
    for attributes in ITEMS:
        try:
            verdicts.append(op.expr(_item(attributes)))
        except Exception as exc:
            verdicts.append((type(exc).__name__, str(exc)))
    return (tuple(verdicts), parser.expr_attr_names_found, parser.expr_attr_values_found)


@pytest.mark.parametrize("condition", CONDITIONS)
def test_each_calls_values_are_judged_as_motos_own_parse_judges_them(condition: str) -> None:
    judged = 0
    for plain in itertools.chain(VALUE_SETS, reversed(VALUE_SETS)):
        values = _values(plain)
        stock = _judge(
            ConditionExpressionParser(condition, NAMES, values), moto_speed._parse_condition
        )
        ours = _judge(ConditionExpressionParser(condition, NAMES, values), lambda p: p.parse())
        assert ours == stock, (condition, plain)
        judged += stock[0] != "error"
    assert judged  # the condition really was evaluated, not refused every time


def test_a_null_bound_is_refused_though_the_text_was_parsed_with_numbers() -> None:
    condition = "#n BETWEEN :a AND :b"
    numbers = {":a": {"N": "1"}, ":b": {"N": "2"}}
    ConditionExpressionParser(condition, NAMES, numbers).parse()
    null_bound = {":a": {"N": "1"}, ":b": {"NULL": True}}
    for _ in range(2):  # the refusal is never kept as a template either
        with pytest.raises(Exception) as refused:
            ConditionExpressionParser(condition, NAMES, null_bound).parse()
        with pytest.raises(type(refused.value)) as stock:
            moto_speed._parse_condition(ConditionExpressionParser(condition, NAMES, null_bound))
        assert str(refused.value) == str(stock.value)


def test_a_template_never_lends_one_calls_values_to_another() -> None:
    condition = "#n <= :a"
    first = ConditionExpressionParser(condition, NAMES, {":a": {"N": "1"}}).parse()
    second = ConditionExpressionParser(condition, NAMES, {":a": {"N": "9"}}).parse()
    five = _item({"n": {"N": "5"}})
    assert (first.expr(five), second.expr(five)) == (False, True)
    assert first.expr(five) is False  # the first call's tree kept its own value
