"""template.yaml, transformed by SAM and linted, says what the design card says."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sparkai.plans import PLANS, edge_throttle
from sparkai_local.template import load_template
from tests.template.conftest import ROOT, run_tool

pytestmark = pytest.mark.template

Resources = dict[str, dict[str, Any]]


def resources_of(transformed: dict[str, Any], kind: str) -> Resources:
    return {k: v for k, v in transformed["Resources"].items() if v["Type"] == kind}


def role_statements(transformed: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role_name = transformed["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = transformed["Resources"][role_name]["Properties"]
    statements = []
    for policy in role.get("Policies", []):
        statements += policy["PolicyDocument"]["Statement"]
    return statements


def test_sam_validate_lint_passes(sam_tools: Path) -> None:
    result = run_tool(str(sam_tools / "sam"), "validate", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_cfn_lint_finds_nothing_in_the_transformed_template(
    sam_tools: Path, transformed_path: Path
) -> None:
    # W2001: SAM inlines the AuthorizerCacheTtl parameter into the authorizer (resolved again by
    # CloudFormation's transform at deploy time with the real value), so it looks unused here.
    result = run_tool(
        str(sam_tools / "cfn-lint"), "--ignore-checks", "W2001", "--", str(transformed_path)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rest_api_uses_the_lambda_authorizer_on_every_method(transformed: dict[str, Any]) -> None:
    (api,) = resources_of(transformed, "AWS::ApiGateway::RestApi").values()
    props = api["Properties"]
    assert props["ApiKeySourceType"] == "AUTHORIZER"
    body = props["Body"]
    authorizer = body["components"]["securitySchemes"]["KeyAuthorizer"][
        "x-amazon-apigateway-authorizer"
    ]
    assert authorizer["type"] == "request"
    assert authorizer["identitySource"] == "method.request.header.Authorization"
    assert authorizer["authorizerResultTtlInSeconds"] == 60
    # The dashboard's routes have their own (Cognito) authorizer: test_dashboard_template.py.
    key_paths = {p: ops for p, ops in body["paths"].items() if not p.startswith("/v1/dashboard")}
    routes = {(path, method) for path, ops in key_paths.items() for method in ops}
    assert routes == {
        ("/v1/chat", "post"),
        ("/v1/chat/completions", "post"),
        ("/v1/models", "get"),
        ("/v1/models/{model_id}", "get"),
        ("/v1/usage", "get"),  # the usage API takes the same API keys (issue 12)
    }
    for path, ops in key_paths.items():
        for method, op in ops.items():
            assert {"KeyAuthorizer": []} in op["security"], (path, method)
            assert {"api_key": []} in op["security"], (path, method)  # usage plans meter it


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("UNAUTHORIZED", "401", "invalid_api_key"),
        ("ACCESS_DENIED", "403", "access_denied"),
        ("THROTTLED", "429", "rate_limit_exceeded"),
        ("QUOTA_EXCEEDED", "429", "quota_exceeded"),
        ("AUTHORIZER_FAILURE", "503", "auth_unavailable"),
        ("MISSING_AUTHENTICATION_TOKEN", "404", "not_found"),
        ("DEFAULT_4XX", None, None),
        ("DEFAULT_5XX", None, "internal_error"),
    ],
)
def test_gateway_responses_use_the_error_shape(
    transformed: dict[str, Any], kind: str, status: str | None, code: str | None
) -> None:
    (api,) = resources_of(transformed, "AWS::ApiGateway::RestApi").values()
    response = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"][kind]
    if status:
        assert str(response["statusCode"]) == status
    assert (
        response["responseParameters"]["gatewayresponse.header.x-request-id"] == "context.requestId"
    )
    template = response["responseTemplates"]["application/json"]
    body = json.loads(template.replace("$context.error.messageString", '"an error"'))
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == code


def test_functions_run_python_312_or_newer_on_arm64_with_the_shared_layer(
    transformed: dict[str, Any],
) -> None:
    functions = resources_of(transformed, "AWS::Lambda::Function")
    assert set(functions) == {
        "AuthorizerFunction",
        "ChatFunction",
        "ChatStreamFunction",
        "GatewayStreamFunction",
        "DashboardFunction",
        "PreSignUpFunction",
    }
    for name, function in functions.items():
        props = function["Properties"]
        version = re.fullmatch(r"python3\.(\d+)", props["Runtime"])
        assert version and int(version.group(1)) >= 12, name
        assert props["Architectures"] == ["arm64"], name
        assert any("SparkLayer" in json.dumps(layer) for layer in props["Layers"]), name
        assert props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "sparkai-stream"


def test_streaming_function_is_a_response_streaming_function_url_with_the_web_adapter(
    transformed: dict[str, Any],
) -> None:
    function = transformed["Resources"]["ChatStreamFunction"]["Properties"]
    assert function["Handler"] == "run.sh"
    env = function["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["SPARKAI_AUTH_MODE"] == "bearer"  # no API Gateway in front: it checks keys itself
    assert any("LambdaAdapterLayerArm64" in json.dumps(layer) for layer in function["Layers"])
    (url,) = resources_of(transformed, "AWS::Lambda::Url").values()
    assert url["Properties"]["InvokeMode"] == "RESPONSE_STREAM"
    assert url["Properties"]["AuthType"] == "NONE"
    assert "ReservedConcurrentExecutions" in function
    assert "StreamUrl" in transformed["Outputs"] and "ApiBaseUrl" in transformed["Outputs"]


def test_authorizer_may_only_read_keys(transformed: dict[str, Any]) -> None:
    statements = role_statements(transformed, "AuthorizerFunction")
    assert statements == [
        {
            "Sid": "ReadKeysByDigest",
            "Effect": "Allow",
            "Action": "dynamodb:GetItem",
            "Resource": {"Fn::GetAtt": ["ApiKeysTable", "Arn"]},
        }
    ]


# The functions that call models (ChatFunction serves no chat route: test_iam_matches_code_paths).
@pytest.mark.parametrize("function", ["GatewayStreamFunction", "ChatStreamFunction"])
def test_chat_functions_invoke_only_the_three_spark_endpoints(
    transformed: dict[str, Any], function: str
) -> None:
    statements = role_statements(transformed, function)
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert all("*" not in action for action in actions), statement
        assert statement["Resource"] != "*", statement
    (invoke,) = [s for s in statements if s["Sid"] == "InvokeSparkEndpoints"]
    arns = json.dumps(invoke["Resource"])
    for parameter in ("Spark1EndpointName", "SparkTurboEndpointName", "SparkProEndpointName"):
        assert f"endpoint/${{{parameter}}}" in arns
    assert len(invoke["Resource"]) == 3
    (last_used,) = [s for s in statements if s["Sid"] == "RecordKeyLastUsedOnly"]
    assert last_used["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"] == [
        "key_hash",
        "last_used_at",
    ]


def test_tables_are_on_demand_encrypted_and_key_tables_recoverable(
    transformed: dict[str, Any],
) -> None:
    tables = resources_of(transformed, "AWS::DynamoDB::Table")
    assert set(tables) == {
        "ApiKeysTable",
        "AccountsTable",
        "RateLimitsTable",
        "UsageTable",
        "IdempotencyTable",
    }
    for name, table in tables.items():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["SSESpecification"]["SSEEnabled"] is True, name
    for name in ("ApiKeysTable", "AccountsTable"):
        assert (
            tables[name]["Properties"]["PointInTimeRecoverySpecification"][
                "PointInTimeRecoveryEnabled"
            ]
            is True
        )
        assert tables[name]["DeletionPolicy"] == "Retain"
    assert tables["RateLimitsTable"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at",
        "Enabled": True,
    }


def test_the_usage_ledger_is_billing_data_keyed_as_the_code_writes_it(
    transformed: dict[str, Any],
) -> None:
    from decimal import Decimal

    from sparkai.usage.ledger import Charge, marker_put, row_key

    price = Decimal("0.0003")
    ledger = transformed["Resources"]["UsageTable"]
    props = ledger["Properties"]
    # Billing data: recoverable, encrypted, kept when the stack (or the table) goes.
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert ledger["DeletionPolicy"] == "Retain" and ledger["UpdateReplacePolicy"] == "Retain"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    # The key the settle transaction and the reports use (string pk/sk) ...
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    charge = Charge("chat-1", "acct_1", "key_1", "spark-1", "2026-11-26", 1, 1, price)
    key = row_key("acct_1", "2026-11-26", "spark-1", "key_1", price)
    assert {name: next(iter(v)) for name, v in key.items()} == {"pk": "S", "sk": "S"}
    # ... and the TTL on the attribute only settle markers carry (aggregates never expire).
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert "expires_at" in marker_put("UsageTable", charge, 0)["Put"]["Item"]


def test_the_idempotency_table_is_encrypted_and_expires_its_claims(
    transformed: dict[str, Any],
) -> None:
    props = transformed["Resources"]["IdempotencyTable"]["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["BillingMode"] == "PAY_PER_REQUEST"


@pytest.mark.parametrize("function", ["GatewayStreamFunction", "ChatStreamFunction"])
def test_chat_paths_may_write_the_ledger_only_inside_the_settle_transaction(
    transformed: dict[str, Any], function: str
) -> None:
    statements = role_statements(transformed, function)
    (settle,) = [s for s in statements if s["Sid"] == "SettleIntoUsageLedger"]
    assert sorted(settle["Action"]) == ["dynamodb:PutItem", "dynamodb:UpdateItem"]
    assert settle["Resource"] == {"Fn::GetAtt": ["UsageTable", "Arn"]}
    assert settle["Condition"] == {
        "ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}
    }
    # Nothing else on the ledger but the usage report's Query.
    others = [
        s
        for s in statements
        if s["Sid"] != "SettleIntoUsageLedger" and "UsageTable" in json.dumps(s["Resource"])
    ]
    assert all(s["Action"] == "dynamodb:Query" for s in others), others


def test_usage_plans_match_the_plans_module(transformed: dict[str, Any]) -> None:
    plans = {
        p["Properties"]["UsagePlanName"]["Fn::Sub"].rsplit("-", 1)[1]: p["Properties"]
        for p in resources_of(transformed, "AWS::ApiGateway::UsagePlan").values()
    }
    assert set(plans) == set(PLANS)
    for plan_id, plan in PLANS.items():
        props = plans[plan_id]
        assert props["ApiStages"][0]["ApiId"] == {"Ref": "SparkApi"}
        if plan.limits is None:
            continue
        expected = edge_throttle(plan.limits.requests_per_minute)
        assert props["Throttle"] == {
            "RateLimit": expected.rate_limit,
            "BurstLimit": expected.burst_limit,
        }


def test_every_sam_parameter_that_names_an_endpoint_has_a_chat_setting() -> None:
    template = load_template()
    env = template["Resources"]["ChatFunction"]["Properties"]["Environment"]["Variables"]
    from sparkai.catalog import MODELS

    for model_id in MODELS:
        assert "SPARKAI_ENDPOINT_" + model_id.upper().replace("-", "_") in env


def test_sam_build_packages_the_layer_and_handlers(sam_tools: Path, tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    result = run_tool(
        str(sam_tools / "sam"),
        "build",
        "--build-dir",
        str(build_dir),
        "--cache-dir",
        str(tmp_path / "cache"),
        extra_path=str(ROOT / ".venv" / "bin"),  # sam build needs python3.12 (the runtime) on PATH
    )
    assert result.returncode == 0, result.stdout + result.stderr
    layer = build_dir / "SparkLayer" / "python"
    assert (layer / "sparkai" / "api" / "app.py").is_file()
    assert (layer / "fastapi").is_dir() and (layer / "mangum").is_dir()
    # The account lifecycle the dashboard runs is in the layer; the operators' CLI is not.
    assert (layer / "sparkai" / "accounts" / "service.py").is_file()
    assert not (layer / "sparkai_admin").exists() and not (layer / "sparkai" / "admin").exists()
    assert not [
        p for p in (layer / "sparkai").rglob("*.py") if 'prog="sparkai-admin"' in p.read_text()
    ]
    cores = list((layer / "pydantic_core").glob("_pydantic_core*.so"))
    assert cores and "aarch64" in cores[0].name  # built for the arm64 runtime
    assert (build_dir / "AuthorizerFunction" / "app.py").is_file()
    assert (build_dir / "ChatFunction" / "app.py").is_file()
    # The pre sign-up trigger ships its disposable-mail list (its own requirements.txt).
    presignup = build_dir / "PreSignUpFunction"
    assert (presignup / "app.py").is_file()
    assert (presignup / "disposable_email_domains" / "__init__.py").is_file()
    run_sh = build_dir / "ChatStreamFunction" / "run.sh"
    assert run_sh.is_file() and run_sh.stat().st_mode & 0o111


def test_the_sam_local_env_file_only_sets_variables_the_functions_declare() -> None:
    # `sam local --env-vars` silently ignores variables a function does not declare.
    from tests.support.lambda_harness import function_spec

    overrides = json.loads((ROOT / "local" / "sam-local-env.json").read_text())["Parameters"]
    assert overrides["AWS_ENDPOINT_URL_DYNAMODB"].endswith(
        ":8000"
    )  # what `make run ARGS=--for-containers` binds
    assert overrides["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"].endswith(":8081")
    from sparkai_local.endpoint import LOCAL_TABLES

    assert overrides["SPARKAI_KEYS_TABLE"] == LOCAL_TABLES["ApiKeysTable"]
    assert overrides["SPARKAI_RATE_LIMITS_TABLE"] == LOCAL_TABLES["RateLimitsTable"]
    chat = function_spec("ChatFunction").environment
    for name in overrides:
        assert name in chat, name
    authorizer = function_spec("AuthorizerFunction").environment
    for name in ("AWS_ENDPOINT_URL_DYNAMODB", "SPARKAI_KEYS_TABLE"):
        assert name in authorizer
