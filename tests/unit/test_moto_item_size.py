"""The local AWS process checks an item's size on every attribute set the way moto does, with the
strings and numbers counted directly (sparkai_local.moto_speed). Every set here runs both ways,
moto's own check and ours, on copies of the same item: what is kept, and what is refused (moto's
ItemSizeTooLarge just over its 405,000-byte limit), must be the same."""

from __future__ import annotations

import random
from typing import Any

import pytest
from moto.dynamodb.exceptions import ItemSizeTooLarge

from sparkai_local import moto_speed

moto_speed.install()
DynamoType, LimitedSizeDict = moto_speed.DynamoType, moto_speed.LimitedSizeDict
LIMIT = moto_speed._ITEM_SIZE_LIMIT  # moto's own figure

VALUES: list[dict[str, Any]] = [
    {"S": "plain"},
    {"S": "naïve café"},  # two bytes for each accented letter
    {"S": "数据"},  # three bytes a character
    {"S": "🙂"},  # four
    {"S": ""},
    {"N": "12345.6789"},
    {"N": "-1E+10"},
    {"SS": ["a", "bé"]},
    {"NS": ["1", "22"]},
    {"B": b"\x00\x01bytes"},
    {"BOOL": True},
    {"NULL": True},
    {"L": [{"S": "x"}, {"N": "1"}, {"M": {"k": {"S": "é"}}}]},
    {"M": {"inner": {"S": "v"}, "ü": {"N": "2"}}},
]


def _set_both_ways(attributes: dict[str, Any], key: str, value: Any) -> tuple[Any, Any]:
    outcomes: list[Any] = []
    for setitem in (moto_speed._stock_limited_setitem, moto_speed._limited_setitem):
        item = LimitedSizeDict()
        dict.update(item, {k: DynamoType(v) for k, v in attributes.items()})
        try:
            setitem(item, key, value)
        except ItemSizeTooLarge:
            outcomes.append("refused")
        else:
            outcomes.append({k: v.to_json() for k, v in item.items()})
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize("seed", range(6))
def test_random_items_keep_and_refuse_what_moto_keeps_and_refuses(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        names = rng.sample(["a", "é", "key", "数", "pk", "n"], rng.randint(0, 5))
        attributes = {name: rng.choice(VALUES) for name in names}
        key = rng.choice(["a", "new", "ü", "pk"])
        theirs, ours = _set_both_ways(attributes, key, DynamoType(rng.choice(VALUES)))
        assert ours == theirs, (attributes, key)


def _filler(size: int, char: str = "x") -> dict[str, Any]:
    return {"S": char * size}


@pytest.mark.parametrize("char", ["x", "é"])
def test_the_limit_falls_on_the_same_byte(char: str) -> None:
    """Just under and just over moto's limit, counted in UTF-8 bytes, both ways."""
    width = len(char.encode())
    base = {"pk": {"S": "k"}, "big": _filler(300000 // width, char)}
    used = 2 + 1 + 3 + (300000 // width) * width  # "pk", "k", "big" and its value
    room = LIMIT - used - len("extra")  # what the new value may take
    for size, verdict in ((room, "kept"), (room + 1, "refused")):
        theirs, ours = _set_both_ways(base, "extra", DynamoType({"S": "y" * size}))
        assert ours == theirs
        assert (ours == "refused") == (verdict == "refused"), size


def test_a_replaced_value_is_counted_as_moto_counts_it() -> None:
    """moto sums the item before the set, the old value of the key included: a replacement that
    fits alone can still be refused. Ours refuses it too."""
    base = {"big": _filler(250000)}
    theirs, ours = _set_both_ways(base, "big", DynamoType(_filler(200000)))
    assert ours == theirs == "refused"


def test_the_check_is_ours_after_install() -> None:
    assert LimitedSizeDict.__setitem__ is moto_speed._limited_setitem
