"""SnapStart on the in-process Python functions: published versions, and every caller (API
Gateway's integrations and its authorizer) invokes the alias, never $LATEST (which SnapStart
does not apply to). The Web Adapter functions stay without it (docs/operations.md says why)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.template

SNAPSTART = ("AuthorizerFunction", "ChatFunction", "DashboardFunction")
WEB_ADAPTER = ("GatewayStreamFunction", "ChatStreamFunction")


@pytest.mark.parametrize("function", SNAPSTART)
def test_in_process_functions_snapstart_their_published_versions(
    transformed: dict[str, Any], function: str
) -> None:
    resources = transformed["Resources"]
    assert resources[function]["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    aliases = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Alias"
        and r["Properties"]["FunctionName"] == {"Ref": function}
    ]
    assert [a["Name"] for a in aliases] == ["live"]


@pytest.mark.parametrize("function", WEB_ADAPTER)
def test_web_adapter_functions_have_no_snapstart(
    transformed: dict[str, Any], function: str
) -> None:
    assert "SnapStart" not in transformed["Resources"][function]["Properties"]


def test_api_gateway_invokes_the_aliases_not_latest(transformed: dict[str, Any]) -> None:
    (api,) = [
        r for r in transformed["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"
    ]
    body = json.dumps(api["Properties"]["Body"])
    for function in SNAPSTART:
        # An unqualified ARN (GetAtt <Function>.Arn) would run $LATEST, without SnapStart.
        assert f'"{function}", "Arn"' not in body, function
    authorizer = api["Properties"]["Body"]["components"]["securitySchemes"]["KeyAuthorizer"]
    uri = json.dumps(authorizer["x-amazon-apigateway-authorizer"]["authorizerUri"])
    assert "AuthorizerFunctionAliaslive" in uri
