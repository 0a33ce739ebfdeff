"""What IAM enforcement costs in the local AWS process (sparkai_local.iam_enforcer): the SigV4
check (moto's IAMRequest) and the policy decision, per DynamoDB call and per chat request.

The three calls of a chat request on the Function URL path (the key check's GetItem, the
reservation's conditional UpdateItem, the settle's TransactWriteItems over the limiter item and
two ledger items), over HTTP to the local AWS process in this process, signed with the Function
URL function's key, with IAM enforced and without (`aws_server --no-iam`); then the check alone,
called in process on the same request."""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from typing import Any

RUNS = 300


def _cpu_ms(call: Callable[[], Any], runs: int = RUNS) -> float:
    """Mean CPU time of this process per call (client and server both run here): on a shared,
    loaded machine, wall-clock time over loopback mostly measures the scheduler."""
    for _ in range(20):
        call()
    start = time.process_time()
    for _ in range(runs):
        call()
    return (time.process_time() - start) / runs * 1000


def _p50_ms(call: Callable[[], Any], runs: int = RUNS) -> float:
    for _ in range(20):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def _calls(url: str, key_id: str, secret: str) -> dict[str, Callable[[], Any]]:
    import boto3

    from sparkai_local.endpoint import LOCAL_TABLES

    ddb = boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )
    keys, limits, usage = (
        LOCAL_TABLES["ApiKeysTable"],
        LOCAL_TABLES["RateLimitsTable"],
        LOCAL_TABLES["UsageTable"],
    )
    account = {"account_id": {"S": "acct_bench"}}
    count = iter(range(10**9))

    def get() -> Any:
        return ddb.get_item(TableName=keys, Key={"key_hash": {"S": "h"}}, ConsistentRead=True)

    def reserve() -> Any:
        return ddb.update_item(
            TableName=limits,
            Key=account,
            UpdateExpression="SET req_tat = :t, expires_at = :e",
            ConditionExpression="attribute_not_exists(keys_epoch) OR keys_epoch = :k",
            ExpressionAttributeValues={":t": {"N": "1"}, ":e": {"N": "2"}, ":k": {"N": "0"}},
        )

    def settle() -> Any:
        n = next(count)
        row = {"pk": {"S": "acct_bench"}, "sk": {"S": f"day#{n % 50}"}}
        marker = {"pk": {"S": "acct_bench"}, "sk": {"S": f"settled#{n}"}}
        return ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": limits,
                        "Key": account,
                        "UpdateExpression": "SET req_tat = :t",
                        "ExpressionAttributeValues": {":t": {"N": "1"}},
                    }
                },
                {
                    "Update": {
                        "TableName": usage,
                        "Key": row,
                        "UpdateExpression": "ADD tokens :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": usage, "Item": marker}},
            ]
        )

    return {"GetItem": get, "UpdateItem": reserve, "TransactWriteItems": settle}


def _measure(enforce: bool) -> dict[str, float]:
    from sparkai_local.aws_server import provisioned_server
    from sparkai_local.function_credentials import FUNCTION_URL
    from sparkai_local.iam_enforcer import OPERATOR_KEY

    with provisioned_server(enforce_iam=enforce) as server:
        key = server.functions.get(FUNCTION_URL)
        key_id, secret = (key.access_key_id, key.secret_access_key) if key else OPERATOR_KEY
        calls = _calls(server.url, key_id, secret)
        results = {name: _cpu_ms(call) for name, call in calls.items()}
        results |= {f"{name} wall": _p50_ms(call) for name, call in calls.items()}
        if enforce:
            results |= _check_alone(server, key_id, secret)
        return results


def _check_alone(server: Any, key_id: str, secret: str) -> dict[str, float]:
    """The enforcer's decision on one signed UpdateItem, called directly (no HTTP, no moto)."""
    import json

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from sparkai_local.endpoint import LOCAL_TABLES

    body = json.dumps(
        {
            "TableName": LOCAL_TABLES["RateLimitsTable"],
            "Key": {"account_id": {"S": "acct_bench"}},
            "UpdateExpression": "SET req_tat = :t",
            "ExpressionAttributeValues": {":t": {"N": "1"}},
        }
    ).encode()
    request = AWSRequest(
        "POST",
        server.url + "/",
        data=body,
        headers={
            "X-Amz-Target": "DynamoDB_20120810.UpdateItem",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    SigV4Auth(Credentials(key_id, secret), "dynamodb", "us-east-1").add_auth(request)
    host = server.url.removeprefix("http://")
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "RAW_URI": "/",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "HTTP_HOST": host,
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in request.headers.items():
        if name.lower() != "content-type":
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    assert server.iam.refusal(environ, body) is None
    return {"check alone (UpdateItem)": _p50_ms(lambda: server.iam.refusal(environ, body), 2000)}


def main() -> None:
    without = _measure(enforce=False)
    with_iam = _measure(enforce=True)
    calls = ("GetItem", "UpdateItem", "TransactWriteItems")
    for unit, suffix in (("CPU ms per call, mean, client + server", ""), ("p50 wall ms", " wall")):
        print(f"{unit}, {RUNS} calls over HTTP (signed with the Function URL role's key)")
        print(f"  {'call':<26} {'no IAM':>8} {'IAM':>8} {'added':>8}")
        for name in calls:
            before, after = without[name + suffix], with_iam[name + suffix]
            print(f"  {name:<26} {before:8.3f} {after:8.3f} {after - before:8.3f}")
        total = sum(with_iam[n + suffix] - without[n + suffix] for n in calls)
        print(f"  {'a chat request (3 calls)':<26} {'':>8} {'':>8} {total:8.3f}")
    alone = with_iam["check alone (UpdateItem)"]
    print(f"  signature + policy check alone, in process (p50 of 2000): {alone:.3f} ms")


if __name__ == "__main__":
    main()
