"""Data and deploy safety (issue 24, part 4), after the SAM transform: durable tables cannot be
lost, every paid-path function is deployed gradually behind an alias that rolls back on its
alarms, and the deploy-time traps are closed (ordering, log groups, rules)."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.template.conftest import ROOT
from tests.template.test_function_url_switch import refused
from tests.template.test_template import resources_of

pytestmark = pytest.mark.template

# Month-to-date spend and key epochs live in RateLimitsTable beside the limiter state.
DURABLE_TABLES = ("ApiKeysTable", "AccountsTable", "UsageTable", "RateLimitsTable")
PAID_PATH = (
    "AuthorizerFunction",
    "ChatFunction",
    "GatewayStreamFunction",
    "ChatStreamFunction",
    "DashboardFunction",
)
ERROR_METRICS = {"5XXError", "ServerErrors", "Errors", "AuthorizerInternalErrors"}
LATENCY_METRICS = {"Duration", "TimeToFirstToken", "Latency"}


@pytest.mark.parametrize("table", DURABLE_TABLES)
def test_durable_tables_are_protected_recoverable_and_retained(
    transformed: dict[str, Any], table: str
) -> None:
    resource = transformed["Resources"][table]
    props = resource["Properties"]
    assert props["DeletionProtectionEnabled"] is True  # not even by hand, in the console
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert resource["DeletionPolicy"] == "Retain" and resource["UpdateReplacePolicy"] == "Retain"


def _alias(resources: dict[str, Any], function: str) -> tuple[str, dict[str, Any]]:
    (alias,) = [
        (name, r)
        for name, r in resources.items()
        if r["Type"] == "AWS::Lambda::Alias"
        and r["Properties"]["FunctionName"] == {"Ref": function}
    ]
    return alias


def _alarm_metrics(resources: dict[str, Any], alarm: str) -> set[str]:
    props = resources[alarm]["Properties"]
    if "MetricName" in props:
        return {props["MetricName"]}
    return {q["MetricStat"]["Metric"]["MetricName"] for q in props["Metrics"] if "MetricStat" in q}


@pytest.mark.parametrize("function", PAID_PATH)
def test_every_paid_path_function_rolls_out_gradually_and_back_on_its_alarms(
    transformed: dict[str, Any], function: str
) -> None:
    resources = transformed["Resources"]
    _, alias = _alias(resources, function)
    assert alias["Properties"]["Name"] == "live"
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group = resources[update["DeploymentGroupName"]["Ref"]]["Properties"]
    config = json.dumps(group["DeploymentConfigName"])
    assert re.search(r"Canary10Percent|Linear10Percent", config), config
    parameter = transformed["Parameters"]["DeploymentPreferenceType"]
    assert all(v.startswith(("Canary", "Linear")) for v in parameter["AllowedValues"])
    assert group["AlarmConfiguration"]["Enabled"] is True
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
    alarms = [a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]]
    metrics = set().union(*(_alarm_metrics(resources, a) for a in alarms))
    assert metrics & ERROR_METRICS, (function, metrics)
    assert metrics & LATENCY_METRICS, (function, metrics)


def test_api_gateway_and_the_function_url_invoke_aliases_never_latest(
    transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"]
    aliases = {_alias(resources, f)[0] for f in PAID_PATH}
    (api,) = resources_of(transformed, "AWS::ApiGateway::RestApi").values()
    # Cognito's pre sign-up trigger is called through its alias too (not the paid path).
    callable_aliases = aliases | {_alias(resources, "PreSignUpFunction")[0]}
    body = api["Properties"]["Body"]
    uris = [
        json.dumps(op["x-amazon-apigateway-integration"]["uri"])
        for ops in body["paths"].values()
        for op in ops.values()
    ]
    authorizer = body["components"]["securitySchemes"]["KeyAuthorizer"]
    uris.append(json.dumps(authorizer["x-amazon-apigateway-authorizer"]["authorizerUri"]))
    for uri in uris:  # ${<Alias>} in the Sub, or a Ref to the alias among its variables
        names = {*re.findall(r"\$\{(\w+)\}", uri), *re.findall(r'"Ref": "(\w+)"', uri)}
        assert names & aliases and not names & set(PAID_PATH), uri
    for name, permission in resources_of(transformed, "AWS::Lambda::Permission").items():
        assert permission["Properties"]["FunctionName"]["Ref"] in callable_aliases, name
    for name, url in resources_of(transformed, "AWS::Lambda::Url").items():
        assert url["Properties"]["TargetFunctionArn"]["Ref"] in aliases, name


def _references(value: Any) -> Iterator[str]:
    """The logical ids a piece of template names (Ref, GetAtt, ${...} in Sub)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                yield inner[0] if isinstance(inner, list) else inner.split(".")[0]
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                yield from (m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                if isinstance(inner, list):
                    yield from _references(inner[1])
            else:
                yield from _references(inner)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def created_after(resources: dict[str, Any], name: str) -> set[str]:
    """Every resource CloudFormation must create before `name` (transitively): what it names
    anywhere (properties, metadata: a Ref there orders too) and its DependsOn."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        resource = resources[todo.pop()]
        depends = resource.get("DependsOn", [])
        named = {*_references(resource), *([depends] if isinstance(depends, str) else depends)}
        for other in named & set(resources) - seen:
            seen.add(other)
            todo.append(other)
    return seen


def test_the_stage_is_created_after_the_account_logging_role(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    (stage,) = resources_of(transformed, "AWS::ApiGateway::Stage")
    assert "AccessLogSetting" in resources[stage]["Properties"]
    assert "ApiGatewayAccount" in created_after(resources, stage)


@pytest.mark.parametrize("function", PAID_PATH)
def test_each_function_logs_to_its_own_group_made_before_it(
    transformed: dict[str, Any], function: str
) -> None:
    resources = transformed["Resources"]
    group_name = resources[function]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    group = resources[group_name]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group["UpdateReplacePolicy"] == "Retain"  # renaming it keeps the old group's logs
    # The group does not wait for the function (a name derived from it would make it wait, and
    # the function's first run, SnapStart's at publish, would create a group without retention).
    assert function not in created_after(resources, group_name)


@pytest.mark.parametrize(
    ("given", "refuses"),
    [
        ({}, False),
        ({"DomainName": "api.example.com"}, True),
        ({"DomainName": "api.example.com", "CertificateArn": "arn:aws:acm:us-east-1:1:c/x"}, False),
        ({"AWS::Partition": "aws-cn"}, True),
        ({"AWS::Partition": "aws-us-gov"}, True),
    ],
)
def test_rules_refuse_a_domain_without_a_certificate_and_partitions_without_the_layer(
    transformed: dict[str, Any], given: dict[str, str], refuses: bool
) -> None:
    assert bool(refused(transformed, given)) is refuses


def test_the_web_adapter_layer_is_the_arm64_build_the_rule_guards(
    transformed: dict[str, Any],
) -> None:
    for function in ("GatewayStreamFunction", "ChatStreamFunction"):
        props = transformed["Resources"][function]["Properties"]
        assert props["Architectures"] == ["arm64"]
        layers = [json.dumps(layer) for layer in props["Layers"] if "Adapter" in json.dumps(layer)]
        assert len(layers) == 1 and ":753240598075:layer:LambdaAdapterLayerArm64:" in layers[0]


def test_the_sagemaker_alarms_read_the_variant_model_endpoints_deploys(
    transformed: dict[str, Any],
) -> None:
    models = tomllib.loads((ROOT / "model_endpoints" / "models.toml").read_text())
    variant = transformed["Parameters"]["SageMakerVariantName"]["Default"]
    assert variant == models["defaults"]["variant_name"]


def test_dashboard_sign_up_can_send_through_ses_with_optional_mfa_and_threat_protection(
    transformed: dict[str, Any],
) -> None:
    parameters = transformed["Parameters"]
    pool = transformed["Resources"]["DashboardUserPool"]["Properties"]
    ses, default = pool["EmailConfiguration"]["Fn::If"][1:]
    assert ses["EmailSendingAccount"] == "DEVELOPER"
    assert ses["SourceArn"] == {"Ref": "DashboardEmailSourceArn"}
    assert default == {"EmailSendingAccount": "COGNITO_DEFAULT"}
    assert parameters["DashboardEmailSourceArn"]["Default"] == ""
    assert "50" in parameters["DashboardEmailSourceArn"]["Description"]
    assert pool["MfaConfiguration"] == {"Ref": "DashboardMfa"}
    assert set(parameters["DashboardMfa"]["AllowedValues"]) == {"OFF", "OPTIONAL", "ON"}
    assert pool["EnabledMfas"]["Fn::If"][1] == ["SOFTWARE_TOKEN_MFA"]
    addons = pool["UserPoolAddOns"]["Fn::If"][1]
    assert addons == {"AdvancedSecurityMode": {"Ref": "DashboardThreatProtection"}}
    assert set(parameters["DashboardThreatProtection"]["AllowedValues"]) == {
        "OFF",
        "AUDIT",
        "ENFORCED",
    }
    assert pool["UserPoolTier"]["Fn::If"][1] == "PLUS"  # threat protection's feature plan
