"""The template keeps the fault promises: an authorizer that fails is the documented 503 with
retry-after, the authorizer outlasts its DynamoDB client, and the idempotency table is encrypted,
expires its items and is reachable only by the functions that serve chat."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sparkai import aws
from sparkai_local.template import load_template
from tests.template.test_template import resources_of, role_statements

pytestmark = pytest.mark.template


@pytest.mark.parametrize("kind", ["AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR"])
def test_a_failing_authorizer_is_the_documented_503_with_retry_after(
    transformed: dict[str, Any], kind: str
) -> None:
    (api,) = resources_of(transformed, "AWS::ApiGateway::RestApi").values()
    response = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"][kind]
    assert str(response["statusCode"]) == "503"
    assert response["responseParameters"]["gatewayresponse.header.retry-after"] == "'1'"
    body = json.loads(response["responseTemplates"]["application/json"])
    assert body["error"]["code"] == "auth_unavailable" and body["error"]["type"] == "server_error"


def test_the_authorizer_outlasts_its_dynamodb_client() -> None:
    # The raw template (the transform keeps the value): Timeout > the client's worst case.
    timeout = load_template()["Resources"]["AuthorizerFunction"]["Properties"]["Timeout"]
    worst = aws.worst_case_seconds("dynamodb")
    assert worst == 2 * (0.5 + 1.0) + 1  # 2 attempts, one standard-mode backoff of at most 1 s
    assert worst < timeout


def _idempotency_grants(transformed: dict[str, Any], function: str) -> list[dict[str, Any]]:
    return [
        s
        for s in role_statements(transformed, function)
        if "IdempotencyTable" in json.dumps(s.get("Resource"))
    ]


def test_only_the_chat_functions_may_touch_the_idempotency_table(
    transformed: dict[str, Any],
) -> None:
    functions = resources_of(transformed, "AWS::Lambda::Function")
    serving_chat = {
        name
        for name, fn in functions.items()
        if "SPARKAI_IDEMPOTENCY_TABLE"
        in fn["Properties"].get("Environment", {}).get("Variables", {})
    }
    assert serving_chat and "AuthorizerFunction" not in serving_chat
    for name in functions:
        grants = _idempotency_grants(transformed, name)
        if name not in serving_chat:
            assert grants == [], name
            continue
        (grant,) = grants
        actions = grant["Action"] if isinstance(grant["Action"], list) else [grant["Action"]]
        assert sorted(actions) == ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        assert grant["Resource"] == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}
