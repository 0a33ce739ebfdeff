"""The DynamoDB operations a client makes while recording, as tests assert them: botocore's
before-parameter-build event, which carries the API parameters (table, index, values) rather
than the wire request."""

from __future__ import annotations

from typing import Any

_ID = "tests-dynamodb-calls"


class DynamoDBCalls:
    """`with DynamoDBCalls(client) as calls:` records (operation, parameters) in order."""

    def __init__(self, client: Any) -> None:
        self._events = client.meta.events
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls.append((model.name, params))

    def __enter__(self) -> DynamoDBCalls:
        self._events.register("before-parameter-build.dynamodb", self._record, unique_id=_ID)
        return self

    def __exit__(self, *_: object) -> None:
        self._events.unregister("before-parameter-build.dynamodb", unique_id=_ID)

    def operations(self) -> list[tuple[str, str]]:
        """(operation, table name) per call."""
        return [(name, params.get("TableName", "")) for name, params in self.calls]
