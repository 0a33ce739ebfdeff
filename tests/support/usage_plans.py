"""A REST API in moto with one usage plan per tier, as template.yaml names them, for the tests of
key lifecycle operations that attach API Gateway keys (inside an active mock_aws)."""

from __future__ import annotations

from typing import Any

import boto3

from tests.conftest import REGION


def usage_plans_api(prefix: str) -> Any:
    """The apigateway client, with '<prefix>-starter|pro|enterprise' plans on a deployed stage."""
    client = boto3.client("apigateway", region_name=REGION)
    api_id = client.create_rest_api(name="api")["id"]
    root = client.get_resources(restApiId=api_id)["items"][0]["id"]
    client.put_method(restApiId=api_id, resourceId=root, httpMethod="ANY", authorizationType="NONE")
    client.put_integration(restApiId=api_id, resourceId=root, httpMethod="ANY", type="MOCK")
    client.create_deployment(restApiId=api_id, stageName="live")
    for plan in ("starter", "pro", "enterprise"):
        client.create_usage_plan(
            name=f"{prefix}-{plan}", apiStages=[{"apiId": api_id, "stage": "live"}]
        )
    return client
