"""What the local AWS endpoint (moto's server, one request at a time) costs per DynamoDB call, as
the usage ledger grows: GetItem, a conditional UpdateItem (the reservation) and the settle's
TransactWriteItems, with moto's own transactions (a deep copy of each table named) and with the
item-level backup the local server installs (sparkai_local.moto_transactions)."""

from __future__ import annotations

import statistics
import time
from typing import Any

SIZES = (0, 2000, 8000)
RUNS = 100


def _p50(call: Any) -> float:
    for _ in range(10):
        call()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    from sparkai_local.aws_server import provisioned_server
    from sparkai_local.endpoint import client

    with provisioned_server() as server:
        _measure(client("dynamodb", server.url))


def _measure(ddb: Any) -> None:
    from sparkai_local import moto_transactions
    from sparkai_local.endpoint import LOCAL_TABLES

    limits, usage = LOCAL_TABLES["RateLimitsTable"], LOCAL_TABLES["UsageTable"]
    schema = ddb.describe_table(TableName=usage)["Table"]["KeySchema"]
    account = {"account_id": {"S": "acct_bench"}}
    ddb.put_item(TableName=limits, Item={**account, "n": {"N": "0"}})

    def ledger_item(i: int) -> dict[str, Any]:
        return {k["AttributeName"]: {"S": f"bench-{i}"} for k in schema} | {"n": {"N": "1"}}

    def get() -> None:
        ddb.get_item(TableName=limits, Key=account, ConsistentRead=True)

    def update() -> None:
        ddb.update_item(
            TableName=limits,
            Key=account,
            UpdateExpression="SET n = n + :one",
            ConditionExpression="n >= :zero",
            ExpressionAttributeValues={":one": {"N": "1"}, ":zero": {"N": "0"}},
        )

    settle_key = {k["AttributeName"]: {"S": "bench-settle"} for k in schema}

    def settle() -> None:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": limits,
                        "Key": account,
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {
                    "Update": {
                        "TableName": usage,
                        "Key": settle_key,
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )

    print(f"p50 of {RUNS} calls over HTTP to the local AWS process (one request at a time), ms")
    print(
        f"  {'ledger items':>12} {'GetItem':>9} {'UpdateItem':>11} {'Transact (moto)':>16} {'Transact (ours)':>16}"
    )
    written = 0
    for size in SIZES:
        while written < size:
            batch = [{"PutRequest": {"Item": ledger_item(written + i)}} for i in range(25)]
            ddb.batch_write_item(RequestItems={usage: batch})
            written += 25
        moto_transactions.uninstall()
        stock = _p50(settle)
        moto_transactions.install()
        print(
            f"  {size:>12} {_p50(get):9.2f} {_p50(update):11.2f} {stock:16.2f} {_p50(settle):16.2f}"
        )


if __name__ == "__main__":
    main()
