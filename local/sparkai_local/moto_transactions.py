"""TransactWriteItems for moto in constant time: back up the items a transaction touches, not the
tables.

moto makes a transaction all-or-nothing by deep-copying every table it names before it starts,
so each call costs time in proportion to the whole table. Every chat request settles in one
transaction that writes the usage ledger, which grows by an item per request: in the local stack
a settle went from milliseconds to over a second (past the client's read timeout, so usage was
lost) after a few thousand requests. DynamoDB's price and latency do not grow with the table;
here neither does the backup: the touched items are copied (or noted absent) and put back if any
part fails. All-or-nothing still holds, because the local AWS server runs one request at a time
(aws_server.SerializedApp), so nobody sees a half-applied transaction.
"""

from __future__ import annotations

import copy
from typing import Any

import moto.dynamodb.models as models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

_ABSENT = object()


class _TablesNotCopied:
    """moto's module-level `copy`, except that a Table is not deep-copied (the items are)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            return value  # restoring it is a no-op; _rollback puts the touched items back
        return copy.deepcopy(value, memo)


# What a transaction touched, to put back on failure: (table, hash key, range key, the item or
# _ABSENT).
_Saved = tuple[Table, Any, Any, Any]


def _touched(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[_Saved]:
    saved: list[_Saved] = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue  # moto reports it; nothing of ours to restore
        key = op.get("Item") or op.get("Key") or {}
        if table.hash_key_attr not in key:
            continue  # malformed: moto rejects it before writing anything
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = (
            DynamoType(key[table.range_key_attr])
            if table.range_key_attr and table.range_key_attr in key
            else None
        )
        if table.has_range_key and range_value is None:
            continue
        current = table.get_item(hash_value, range_value)
        saved.append(
            (table, hash_value, range_value, _ABSENT if current is None else copy.deepcopy(current))
        )
    return saved


def _rollback(saved: list[_Saved]) -> None:
    for table, hash_value, range_value, previous in reversed(saved):
        if range_value is None:
            if previous is _ABSENT:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = previous
        elif previous is _ABSENT:
            table.items.get(hash_value, {}).pop(range_value, None)
        else:
            table.items[hash_value][range_value] = previous


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    saved = _touched(self, transact_items)
    try:
        _original(self, transact_items)
    except Exception:
        _rollback(saved)
        raise


_original = DynamoDBBackend.transact_write_items


def install() -> None:
    """Idempotent: the local AWS process and in-process test servers both call it."""
    models.copy = _TablesNotCopied()  # type: ignore[attr-defined,assignment]  # moto's own copy module, swapped on purpose
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


def uninstall() -> None:
    """moto's own transactions again (benchmarks/local_aws.py compares the two)."""
    models.copy = copy  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = _original  # type: ignore[method-assign]
