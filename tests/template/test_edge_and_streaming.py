"""template.yaml's streaming REST routes, custom domain, hardened edge and observability, after the
SAM transform (what CloudFormation receives). sam validate --lint and cfn-lint run in
test_template.py over the same template."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from sparkai.api.metrics import ALARM_DIMENSIONS, NAMESPACE
from sparkai.catalog import MODELS
from tests.template.conftest import ROOT
from tests.template.test_template import resources_of

pytestmark = pytest.mark.template

CHAT_PATHS = ("/v1/chat", "/v1/chat/completions")


def api_body(transformed: dict[str, Any]) -> dict[str, Any]:
    (api,) = resources_of(transformed, "AWS::ApiGateway::RestApi").values()
    return api["Properties"]["Body"]


def stage(transformed: dict[str, Any]) -> dict[str, Any]:
    (resource,) = resources_of(transformed, "AWS::ApiGateway::Stage").values()
    return resource["Properties"]


@pytest.mark.parametrize("path", CHAT_PATHS)
def test_chat_routes_stream_through_api_gateway_into_the_web_adapter(
    transformed: dict[str, Any], path: str
) -> None:
    operation = api_body(transformed)["paths"][path]["post"]
    integration = operation["x-amazon-apigateway-integration"]
    assert integration["type"] == "aws_proxy"
    assert integration["responseTransferMode"] == "STREAM"
    uri = integration["uri"]["Fn::Sub"]
    # InvokeWithResponseStream: the 2021-11-15 API's response-streaming-invocations path.
    # ... of the live alias (CodeDeploy shifts it), never $LATEST.
    assert uri.endswith(
        "/2021-11-15/functions/${GatewayStreamFunctionAliaslive}/response-streaming-invocations"
    )
    # Still behind the authorizer and the usage plans.
    assert {"KeyAuthorizer": []} in operation["security"]
    assert {"api_key": []} in operation["security"]
    # No 29 s cap: the integration may run as long as the function may.
    function = transformed["Resources"]["GatewayStreamFunction"]["Properties"]
    assert integration["timeoutInMillis"] == function["Timeout"] * 1000
    assert 29_000 < integration["timeoutInMillis"] <= 900_000


def test_the_gateway_streaming_function_trusts_only_api_gateway(
    transformed: dict[str, Any],
) -> None:
    function = transformed["Resources"]["GatewayStreamFunction"]["Properties"]
    env = function["Environment"]["Variables"]
    assert env["SPARKAI_AUTH_MODE"] == "adapter"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert function["Handler"] == "run.sh"
    assert any("LambdaAdapterLayerArm64" in json.dumps(layer) for layer in function["Layers"])
    # No Function URL of its own, and only our REST API may invoke it.
    urls = resources_of(transformed, "AWS::Lambda::Url").values()
    assert all("GatewayStream" not in json.dumps(u["Properties"]) for u in urls)
    permissions = [
        p["Properties"]
        for p in resources_of(transformed, "AWS::Lambda::Permission").values()
        if "GatewayStreamFunction" in json.dumps(p["Properties"]["FunctionName"])
    ]
    assert {json.dumps(p["FunctionName"]) for p in permissions} == {
        json.dumps({"Ref": "GatewayStreamFunctionAliaslive"})
    }
    assert permissions
    for permission in permissions:
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert "${__ApiId__}" in json.dumps(permission["SourceArn"])
        assert permission["SourceArn"]["Fn::Sub"][1]["__ApiId__"] == {"Ref": "SparkApi"}


def test_only_api_gateway_routes_the_mangum_function_serves_are_short_json_ones(
    transformed: dict[str, Any],
) -> None:
    served_by_mangum = {
        path
        for path, operations in api_body(transformed)["paths"].items()
        for operation in operations.values()
        if "ChatFunction" in json.dumps(operation["x-amazon-apigateway-integration"]["uri"])
    }
    # The short JSON routes really are there (a renamed function would empty this set and pass).
    assert {"/v1/models", "/v1/usage"} <= served_by_mangum, served_by_mangum
    assert served_by_mangum.isdisjoint(CHAT_PATHS), served_by_mangum


def test_the_function_url_reserved_concurrency_is_a_parameter_a_new_account_can_deploy(
    transformed: dict[str, Any],
) -> None:
    # Lambda keeps 100 of the account's concurrency unreserved: a new account (a quota of 10 or
    # so) cannot reserve any, so the default reserves none; samconfig.toml's prod sets a cap.
    parameter = transformed["Parameters"]["StreamReservedConcurrency"]
    assert parameter["Default"] == 0 and parameter["MinValue"] == 0
    function = transformed["Resources"]["ChatStreamFunction"]["Properties"]
    condition, reserved, unset = function["ReservedConcurrentExecutions"]["Fn::If"]
    assert reserved == {"Ref": "StreamReservedConcurrency"} and unset == {"Ref": "AWS::NoValue"}
    assert "StreamReservedConcurrency" in json.dumps(transformed["Conditions"][condition])
    gateway = transformed["Resources"]["GatewayStreamFunction"]["Properties"]
    assert "ReservedConcurrentExecutions" not in gateway  # API Gateway's path is never capped by it
    prod = (ROOT / "samconfig.toml").read_text().split("[prod.deploy.parameters]")[1]
    assert re.search(r"StreamReservedConcurrency=[1-9]", prod)


ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "status": "$context.status",
    "responseLatency": "$context.responseLatency",
    "responseTransferMode": "$context.integration.responseTransferMode",
    "timeToFirstContent": "$context.integration.timeToFirstContent",
    "keyPrefix": "$context.authorizer.key_prefix",
    "keyId": "$context.authorizer.key_id",
}


def test_stage_access_logs_are_json_with_the_key_prefix_never_the_key(
    transformed: dict[str, Any],
) -> None:
    setting = stage(transformed)["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(setting["Format"])  # one JSON object per request
    for name, variable in ACCESS_LOG_FIELDS.items():
        assert fields[name] == variable
    text = setting["Format"].lower()
    for secret in ("apikey", "authorization", "key_hash", "usage"):
        assert secret not in text, secret
    group = transformed["Resources"]["ApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_authorizer_context_has_every_key_the_access_log_reads(
    transformed: dict[str, Any],
) -> None:
    from sparkai.auth.authorizer import authorize
    from sparkai.keys.records import Principal
    from sparkai.plans import Limits

    class _Authenticator:
        def authenticate(self, header: str | None) -> Principal:
            return Principal(
                "acct_1", "key_1", "pro", Limits(90, 75_000), "h" * 64, "uk", "sk-spark-Ab3x"
            )

    event = {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/live/POST/v1/chat",
        "headers": {"Authorization": "Bearer sk-spark-" + "A" * 43},
        "requestContext": {},
    }
    context = authorize(event, _Authenticator())["context"]  # type: ignore[arg-type]
    used = set(
        re.findall(
            r"\$context\.authorizer\.(\w+)", stage(transformed)["AccessLogSetting"]["Format"]
        )
    )
    assert used - {"latency", "status", "principalId"} <= set(context)
    assert context["key_prefix"] == "sk-spark-Ab3x"


def test_stage_throttles_by_default_traces_and_never_logs_bodies(
    transformed: dict[str, Any],
) -> None:
    props = stage(transformed)
    assert props["TracingEnabled"] is True
    (settings,) = props["MethodSettings"]
    assert settings["ResourcePath"] == "/*" and settings["HttpMethod"] == "*"
    assert settings["ThrottlingRateLimit"] == {"Ref": "StageThrottleRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "StageThrottleBurstLimit"}
    assert settings["DataTraceEnabled"] is False and settings["LoggingLevel"] == "OFF"
    for name, function in resources_of(transformed, "AWS::Lambda::Function").items():
        assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}, name


def test_the_custom_domain_is_regional_tls12_mapped_and_optional(
    transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"]
    domain = resources["ApiDomain"]
    assert domain["Condition"] == "HasDomain"
    props = domain["Properties"]
    assert props["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert props["SecurityPolicy"] == "TLS_1_2"
    assert props["RegionalCertificateArn"] == {"Ref": "CertificateArn"}
    mapping = resources["ApiDomainMapping"]
    assert mapping["Condition"] == "HasDomain"
    assert mapping["Properties"]["RestApiId"] == {"Ref": "SparkApi"}
    record = resources["ApiDomainRecord"]
    assert record["Condition"] == "HasHostedZone"
    alias = record["Properties"]["AliasTarget"]
    assert alias["DNSName"] == {"Fn::GetAtt": ["ApiDomain", "RegionalDomainName"]}
    assert alias["HostedZoneId"] == {"Fn::GetAtt": ["ApiDomain", "RegionalHostedZoneId"]}
    output = transformed["Outputs"]["CustomDomainBaseUrl"]
    assert output["Condition"] == "HasDomain"
    assert output["Value"] == {"Fn::Sub": "https://${DomainName}/v1"}
    for name in ("DomainName", "CertificateArn", "HostedZoneId"):
        assert transformed["Parameters"][name]["Default"] == ""
    assert transformed["Conditions"]["HasDomain"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "DomainName"}, ""]}]
    }


def test_waf_is_optional_with_the_common_rule_set_and_an_ip_rate_rule(
    transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"]
    acl = resources["ApiWebAcl"]
    assert acl["Condition"] == "HasWaf"
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL" and props["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in props["Rules"]}
    rate = rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"]
    assert rate == {"Limit": {"Ref": "WafRateLimitPerIp"}, "AggregateKeyType": "IP"}
    assert "Block" in rules["RateLimitPerIp"]["Action"]
    managed = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert managed["VendorName"] == "AWS" and managed["Name"] == "AWSManagedRulesCommonRuleSet"
    # A prompt over 8 KB, or one with code in it, is an ordinary chat request: body rules count.
    counted = {o["Name"] for o in managed["RuleActionOverrides"] if "Count" in o["ActionToUse"]}
    assert "SizeRestrictions_BODY" in counted and "CrossSiteScripting_BODY" in counted
    association = resources["ApiWebAclAssociation"]
    assert association["Condition"] == "HasWaf"
    arn = association["Properties"]["ResourceArn"]["Fn::Sub"]
    assert arn.endswith("::/restapis/${SparkApi}/stages/${SparkApiStage}")  # SAM resolves .Stage
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}


def _alarms(transformed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: v["Properties"] for k, v in resources_of(transformed, "AWS::CloudWatch::Alarm").items()
    }


def test_alarms_cover_errors_latency_ttft_per_model_limiter_authorizer_and_throttles(
    transformed: dict[str, Any],
) -> None:
    alarms = _alarms(transformed)
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for props in alarms.values():
        if "MetricName" in props:
            by_metric.setdefault(props["MetricName"], []).append(props)
    assert by_metric["5XXError"][0]["Namespace"] == "AWS/ApiGateway"
    for metric in ("Latency", "TimeToFirstToken"):
        models = set()
        for props in by_metric[metric]:
            assert props["Namespace"] == NAMESPACE and props["ExtendedStatistic"] == "p99"
            dims = {d["Name"]: d["Value"] for d in props["Dimensions"]}
            assert sorted(dims) == sorted(ALARM_DIMENSIONS)  # a set the EMF line really emits
            models.add(dims["model"])
        assert models == set(MODELS), metric
    for metric in (
        "ServerErrors",
        "ModelErrors",
        "LimiterUnavailable",
        "SettleFailures",
        "AuthorizerInternalErrors",
    ):
        assert by_metric[metric], metric
    # Lambda errors and throttles of every function (the authorizer's errors: see
    # test_alarm_bindings.py, they count bad keys), account concurrency against a parameter.
    functions = set(resources_of(transformed, "AWS::Lambda::Function"))
    errors = {p["Dimensions"][0]["Value"]["Ref"] for p in by_metric["Errors"]}
    # (nor the pre sign-up trigger's: each refused disposable address is one of its errors)
    assert errors == functions - {"AuthorizerFunction", "PreSignUpFunction"}
    throttled = {p["Dimensions"][0]["Value"]["Ref"] for p in by_metric["Throttles"]}
    assert throttled == functions
    (concurrency,) = by_metric["ConcurrentExecutions"]
    assert "Dimensions" not in concurrency  # the account's, not one function's
    assert concurrency["Threshold"] == {"Ref": "AccountConcurrencyAlarmThreshold"}
    # SageMaker 5xx and model latency for each endpoint.
    for metric in ("Invocation5XXErrors", "ModelLatency"):
        endpoints = {
            json.dumps(d["Value"])
            for p in by_metric[metric]
            for d in p["Dimensions"]
            if d["Name"] == "EndpointName"
        }
        assert len(endpoints) == len(MODELS), metric
    # DynamoDB system errors and throttles, every durable table in the throttle sum.
    math = {name: props for name, props in alarms.items() if "Metrics" in props}
    read = {
        (
            q["MetricStat"]["Metric"]["MetricName"],
            json.dumps(q["MetricStat"]["Metric"]["Dimensions"]),
        )
        for props in math.values()
        for q in props["Metrics"]
        if "MetricStat" in q
    }
    assert {m for m, _ in read} >= {"SystemErrors", "ReadThrottleEvents", "WriteThrottleEvents"}
    for table in resources_of(transformed, "AWS::DynamoDB::Table"):
        assert any(table in dims for _, dims in read), table


def test_every_alarm_reaches_a_person(transformed: dict[str, Any]) -> None:
    # Without AlarmTopicArn the stack creates the topic (and subscribes AlarmEmail when given).
    resources = transformed["Resources"]
    assert transformed["Parameters"]["AlarmTopicArn"]["Default"] == ""
    assert resources["AlarmTopic"]["Condition"] == "CreateAlarmTopic"
    subscription = resources["AlarmTopicEmail"]
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    topic = [{"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}]
    for name, props in _alarms(transformed).items():
        assert props["AlarmActions"] == topic, name
        assert props["OKActions"] == topic, name
    assert transformed["Conditions"]["CreateAlarmTopic"] == {
        "Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]
    }
    prod = (ROOT / "samconfig.toml").read_text().split("[prod.deploy.parameters]")[1]
    assert re.search(r"AlarmEmail=\S+@|AlarmTopicArn=arn:", prod)  # prod pages someone


def test_no_alarm_reads_client_mistakes(transformed: dict[str, Any]) -> None:
    # A 4xx is the client's (a bad key, a bad body, a 429): paging on it pages on traffic.
    for name, props in _alarms(transformed).items():
        assert props.get("MetricName") != "4XXError", name
        assert "4XX" not in props.get("MetricName", ""), name


def test_the_dashboard_shows_the_alarmed_metrics(transformed: dict[str, Any]) -> None:
    (dashboard,) = resources_of(transformed, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body.replace("${", "{"))["widgets"]  # valid JSON once substituted
    titles = " ".join(w["properties"]["title"] for w in widgets)
    for word in ("latency", "first token", "model", "throttles", "5xx", "settle", "SageMaker"):
        assert word.lower() in titles.lower(), word
