"""The local AWS process walks an UpdateExpression's syntax tree with a shorter walk
(sparkai_local.moto_speed: what moto asks per node decided once per node type). Every update here
runs both ways, moto's own walk and ours, on copies of the same items: the item written, or the
error raised, must be the same."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.executors import UpdateExpressionExecutor

from sparkai_local import moto_speed

moto_speed.install()

NAMES = {
    "#n": "n",
    "#t": "tag",
    "#l": "list",
    "#m": "map",
    "#i": "inner",
    "#s": "set",
    "#x": "missing",
    "#k": "account_id",
    "#e": "e",
    "#f": "f",
    "#g": "g",
    "#h": "h",
}
UPDATES = [
    "SET #n = #n + :a, #t = :s",
    "SET #n = if_not_exists(#n, :zero) + :a",
    "SET #l = list_append(#l, :list)",
    "SET #l = list_append(if_not_exists(#l, :empty), :list)",
    "SET #m.#i = :s REMOVE #t",
    "ADD #n :a, #s :ss",
    "DELETE #s :ss",
    "SET #l[0] = :s",
    "SET #n = :a - #n",
    "REMOVE #l[0], #m.#i",
    "SET #x = #x + :a",
    "SET #n = #t + :a",
    "SET #k = :s",
    "SET #t = :blank",
    "SET #e = :a, #f = #n, #g = #m.#i ADD #h :a REMOVE #t",
]
ITEMS = [
    {},
    {"n": {"N": "5"}, "tag": {"S": "apple"}},
    {
        "n": {"N": "-1.5"},
        "tag": {"S": "b"},
        "list": {"L": [{"N": "3"}, {"S": "x"}]},
        "map": {"M": {"inner": {"S": "apple"}}},
        "set": {"SS": ["a", "b"]},
    },
    {"n": {"S": "not a number"}, "list": {"S": "not a list"}, "map": {"M": {}}},
]
VALUES = {
    ":a": {"N": "2.5"},
    ":zero": {"N": "0"},
    ":s": {"S": "pear"},
    ":blank": {"S": ""},
    ":list": {"L": [{"N": "7"}]},
    ":empty": {"L": []},
    ":ss": {"SS": ["b", "c"]},
}
TABLE = Table(  # type: ignore[abstract]  # as moto's backend makes one
    "walks",
    account_id="123456789012",
    region="us-east-1",
    schema=[{"AttributeName": "account_id", "KeyType": "HASH"}],
    attr=[{"AttributeName": "account_id", "AttributeType": "S"}],
)


def _used[V](placeholders: dict[str, V], expression: str) -> dict[str, V]:
    """The placeholders `expression` names (moto refuses unused ones)."""
    return {name: value for name, value in placeholders.items() if name in expression}


def _update(expression: str, attributes: dict[str, Any]) -> Any:
    """moto's update_item, from the validator on: the item it leaves, or the error it raises."""
    names = _used(NAMES, expression)
    item = Item(DynamoType({"S": "k"}), None, {"account_id": {"S": "k"}, **attributes})
    try:
        ast = moto_speed.expressions.UpdateExpressionParser.make(expression)
        validated = moto_speed.UpdateExpressionValidator(
            ast,
            expression_attribute_names=names,
            expression_attribute_values=_used(VALUES, expression),
            item=item,
            table=TABLE,
        ).validate()
        validated.normalize()
        UpdateExpressionExecutor(validated, item, names).execute()
    except Exception as exc:  # compared as type and message
        return ("error", type(exc).__name__, str(exc))
    return item.to_json()


def _both_ways(monkeypatch: pytest.MonkeyPatch, expression: str, attributes: Any) -> Any:
    with monkeypatch.context() as stock:
        stock.setattr(
            moto_speed.DepthFirstTraverser,
            "traverse_node_recursively",
            moto_speed.stock_traverse_node_recursively,
        )
        theirs = _update(expression, copy.deepcopy(attributes))
    ours = _update(expression, copy.deepcopy(attributes))
    return theirs, ours


@pytest.mark.parametrize("expression", UPDATES)
def test_each_update_leaves_the_item_motos_own_walk_leaves(
    monkeypatch: pytest.MonkeyPatch, expression: str
) -> None:
    outcomes = set()
    for attributes in itertools.chain(ITEMS, reversed(ITEMS)):  # ours first, then theirs first
        theirs, ours = _both_ways(monkeypatch, expression, attributes)
        assert ours == theirs, (expression, attributes)
        outcomes.add(repr(ours))
    assert outcomes  # each expression was judged


def test_the_updates_cover_writes_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparisons above would pass vacuously if every update failed alike (or none did)."""
    results = [_both_ways(monkeypatch, e, a)[1] for e in UPDATES for a in ITEMS]
    refused = [r for r in results if isinstance(r, tuple)]
    written = [r for r in results if isinstance(r, dict)]
    assert len(refused) >= 10 and len(written) >= 20
    assert {r[1] for r in refused} >= {"AttributeDoesNotExist", "IncorrectOperandType"}


def test_the_walk_is_ours_after_install() -> None:
    walk = moto_speed.DepthFirstTraverser.traverse_node_recursively
    assert walk is moto_speed._traverse_node_recursively
    assert walk is not moto_speed.stock_traverse_node_recursively
