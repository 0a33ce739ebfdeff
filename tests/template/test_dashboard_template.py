"""The dashboard in template.yaml (after the SAM transform): user pool and app client, the Cognito
authorizer on the dashboard routes only, a private bucket behind CloudFront with origin access
control, HTTPS only and the security headers the local stack serves."""

from __future__ import annotations

from typing import Any

import pytest

from sparkai_local.dashboard_site import content_security_policy

pytestmark = pytest.mark.template

DASHBOARD_ROUTES = {
    ("/v1/dashboard/account", "get"),
    ("/v1/dashboard/keys", "get"),
    ("/v1/dashboard/keys", "post"),
    ("/v1/dashboard/keys/{key_id}/revoke", "post"),
    ("/v1/dashboard/keys/{key_id}/rotate", "post"),
    ("/v1/dashboard/usage", "get"),
}


def of_type(transformed: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in transformed["Resources"].items() if v["Type"] == kind}


def api_body(transformed: dict[str, Any]) -> dict[str, Any]:
    (api,) = of_type(transformed, "AWS::ApiGateway::RestApi").values()
    return api["Properties"]["Body"]


def test_user_pool_signs_up_by_email_with_verification(transformed: dict[str, Any]) -> None:
    (pool,) = of_type(transformed, "AWS::Cognito::UserPool").values()
    props = pool["Properties"]
    assert props["UsernameAttributes"] == ["email"]
    assert props["AutoVerifiedAttributes"] == ["email"]
    assert props["Policies"]["PasswordPolicy"]["MinimumLength"] >= 10
    assert pool["DeletionPolicy"] == "Retain"  # users are customers: never deleted by a deploy


def test_app_client_is_public_and_allows_password_and_srp(transformed: dict[str, Any]) -> None:
    (client,) = of_type(transformed, "AWS::Cognito::UserPoolClient").values()
    props = client["Properties"]
    assert props["GenerateSecret"] is False  # a browser cannot keep a secret
    assert {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH"} <= set(props["ExplicitAuthFlows"])
    assert props["PreventUserExistenceErrors"] == "ENABLED"


def test_cognito_authorizer_guards_the_dashboard_routes_and_only_them(
    transformed: dict[str, Any],
) -> None:
    body = api_body(transformed)
    schemes = body["components"]["securitySchemes"]
    cognito = schemes["DashboardCognito"]["x-amazon-apigateway-authorizer"]
    assert cognito["type"] == "cognito_user_pools"
    assert cognito["providerARNs"] == [{"Fn::GetAtt": ["DashboardUserPool", "Arn"]}]
    seen = set()
    for path, operations in body["paths"].items():
        for method, operation in operations.items():
            if method == "options":
                continue
            security = operation["security"]
            if path.startswith("/v1/dashboard"):
                seen.add((path, method))
                # ID tokens only: no key authorizer, no usage-plan API key.
                assert security == [{"DashboardCognito": []}], (path, method)
                uri = operation["x-amazon-apigateway-integration"]["uri"]
                assert "DashboardFunction" in str(uri), (path, method)
            else:
                assert {"DashboardCognito": []} not in security, (path, method)
                assert {"KeyAuthorizer": []} in security, (path, method)
    assert seen == DASHBOARD_ROUTES


def test_dashboard_function_may_manage_keys_and_the_chat_functions_may_not(
    transformed: dict[str, Any],
) -> None:
    def grants(function: str) -> set[tuple[str, str]]:
        """(action, resource) pairs of the function's role, resources as their template text."""
        role = transformed["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
        found: set[tuple[str, str]] = set()
        for policy in transformed["Resources"][role]["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                resources = statement["Resource"]
                for action in actions if isinstance(actions, list) else [actions]:
                    for resource in resources if isinstance(resources, list) else [resources]:
                        found.add((action, str(resource)))
        return found

    def creates_keys_or_accounts(function: str) -> bool:
        return any(
            action == "dynamodb:PutItem" and ("ApiKeysTable" in res or "AccountsTable" in res)
            for action, res in grants(function)
        )

    env = transformed["Resources"]["DashboardFunction"]["Properties"]["Environment"]["Variables"]
    assert env["SPARKAI_DASHBOARD_AUTH"] == "authorizer"
    assert creates_keys_or_accounts("DashboardFunction")
    for name, resource in of_type(transformed, "AWS::Lambda::Function").items():
        if name == "DashboardFunction":
            continue
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        assert variables.get("SPARKAI_DASHBOARD_AUTH", "off") == "off", name
        if "Fn::GetAtt" in str(resource["Properties"].get("Role")):
            assert not creates_keys_or_accounts(name), name


def test_bucket_is_private_encrypted_and_read_only_through_oac(transformed: dict[str, Any]) -> None:
    bucket = transformed["Resources"]["DashboardBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"
    assert "WebsiteConfiguration" not in bucket  # never a public website endpoint

    (policy,) = of_type(transformed, "AWS::S3::BucketPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert "DashboardDistribution" in str(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    (oac,) = of_type(transformed, "AWS::CloudFront::OriginAccessControl").values()
    config = oac["Properties"]["OriginAccessControlConfig"]
    assert (config["OriginAccessControlOriginType"], config["SigningBehavior"]) == ("s3", "always")


def test_cloudfront_is_https_only_with_security_headers(transformed: dict[str, Any]) -> None:
    (distribution,) = of_type(transformed, "AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    behaviors = [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]
    for behavior in behaviors:
        assert behavior["ViewerProtocolPolicy"] in {"redirect-to-https", "https-only"}
        assert behavior["ResponseHeadersPolicyId"] == {"Ref": "DashboardHeadersPolicy"}
    origins = {o["Id"]: o for o in config["Origins"]}
    assert origins["dashboard-files"]["OriginAccessControlId"] == {
        "Fn::GetAtt": ["DashboardOriginAccessControl", "Id"]
    }
    assert origins["dashboard-files"]["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert origins["dashboard-api"]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    (api_behavior,) = config["CacheBehaviors"]
    assert api_behavior["PathPattern"] == "/v1/dashboard/*"

    (headers,) = of_type(transformed, "AWS::CloudFront::ResponseHeadersPolicy").values()
    security = headers["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self'" in csp
    # The local stack serves the same policy, with its own Cognito endpoint.
    local = content_security_policy("https://cognito-idp.${AWS::Region}.amazonaws.com")
    assert csp == local
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert security["FrameOptions"]["FrameOption"] == "DENY"
