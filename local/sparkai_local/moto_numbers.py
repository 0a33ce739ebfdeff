"""DynamoDB number arithmetic for moto: exact decimals, as DynamoDB does them.

moto adds and subtracts numbers by parsing a value without a "." as an int, so a number it wrote
itself in exponent form ("3E-7", a spark-1 token's price in USD, or "0E-7") cannot be read back by
the next `ADD` or `SET x = x + :d`: the request fails with a 500. DynamoDB does decimal arithmetic
to 38 significant digits and answers numbers in plain notation; this makes moto do the same. It
changes nothing else, and the local AWS process and the in-process test fixtures both install it.
"""

from __future__ import annotations

from decimal import Decimal

from moto.dynamodb.models.dynamo_type import DDBType, DynamoType


def _plain(value: Decimal) -> str:
    # normalize(): 1.50 -> 1.5 and 0E-7 -> 0; "f": never exponent notation.
    return format(value.normalize(), "f")


def _add(self: DynamoType, other: DynamoType) -> DynamoType:
    if self.type != other.type:
        raise TypeError("Different types of operandi is not allowed.")
    if self.type != DDBType.NUMBER:
        return _original_add(self, other)
    return DynamoType({DDBType.NUMBER: _plain(Decimal(self.value) + Decimal(other.value))})


def _sub(self: DynamoType, other: DynamoType) -> DynamoType:
    if self.type != other.type:
        raise TypeError("Different types of operandi is not allowed.")
    if self.type != DDBType.NUMBER:
        return _original_sub(self, other)
    return DynamoType({DDBType.NUMBER: _plain(Decimal(self.value) - Decimal(other.value))})


_original_add = DynamoType.__add__
_original_sub = DynamoType.__sub__


def install() -> None:
    """Idempotent: the first call patches, later calls do nothing."""
    DynamoType.__add__ = _add  # type: ignore[method-assign]
    DynamoType.__sub__ = _sub  # type: ignore[method-assign]
