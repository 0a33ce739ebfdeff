"""The local AWS endpoint keeps HTTP/1.1 connections open (sparkai_local.keep_alive): a client's
calls share one connection, answers stay exactly framed, conditional writes still refuse, and a
request it cannot frame (chunked upload) is answered and the connection closed, as before."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from sparkai_local.aws_server import LocalAwsServer, provisioned_server
from sparkai_local.endpoint import LOCAL_TABLES, client
from sparkai_local.iam_enforcer import OPERATOR_KEY

LIMITS = LOCAL_TABLES["RateLimitsTable"]


def list_tables_headers(server: LocalAwsServer) -> dict[str, str]:
    """A ListTables request's headers, signed with the operator's key (the server checks it)."""
    request = AWSRequest(
        "POST",
        server.url + "/",
        data=b"{}",
        headers={
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    SigV4Auth(Credentials(*OPERATOR_KEY), "dynamodb", "us-east-1").add_auth(request)
    return dict(request.headers.items())


@pytest.fixture(scope="module")
def server() -> Iterator[LocalAwsServer]:
    with provisioned_server() as running:
        yield running


def test_a_clients_calls_share_one_connection(server: LocalAwsServer) -> None:
    dynamodb = client("dynamodb", server.url)
    key = {"account_id": {"S": "acct_keep_alive"}}
    dynamodb.put_item(TableName=LIMITS, Item={**key, "n": {"N": "0"}})
    for _ in range(20):
        dynamodb.update_item(
            TableName=LIMITS,
            Key=key,
            UpdateExpression="ADD n :one",
            ConditionExpression="attribute_exists(account_id)",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    assert dynamodb.get_item(TableName=LIMITS, Key=key)["Item"]["n"] == {"N": "20"}
    with pytest.raises(ClientError) as refused:  # a failed condition is still a 400, framed
        dynamodb.update_item(
            TableName=LIMITS,
            Key={"account_id": {"S": "acct_missing"}},
            UpdateExpression="ADD n :one",
            ConditionExpression="attribute_exists(account_id)",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    pool = dynamodb._endpoint.http_session._manager.connection_from_url(server.url)
    assert pool.num_connections == 1  # werkzeug's own server closes after every answer


def connect(server: LocalAwsServer) -> http.client.HTTPConnection:
    address = urlsplit(server.url)
    return http.client.HTTPConnection(str(address.hostname), address.port, timeout=10)


def test_answers_on_one_connection_are_framed_and_it_stays_open(server: LocalAwsServer) -> None:
    connection = connect(server)
    for _ in range(3):
        connection.request("POST", "/", body=b"{}", headers=list_tables_headers(server))
        response = connection.getresponse()
        assert response.status == 200
        assert LIMITS in json.loads(response.read())["TableNames"]
        assert response.getheader("connection") is None
    connection.close()


def test_a_chunked_upload_is_answered_and_the_connection_closed(server: LocalAwsServer) -> None:
    connection = connect(server)
    headers = list_tables_headers(server)
    connection.request("POST", "/", body=iter([b"{}"]), headers=headers, encode_chunked=True)
    response = connection.getresponse()
    body: Any = json.loads(response.read())
    assert response.status == 200 and LIMITS in body["TableNames"]
    assert response.getheader("connection") == "close"
    connection.close()
