"""The Function URL is optional (EnableFunctionUrl) and cannot coexist with daily quotas, which only
API Gateway's usage plans count; the account-wide API Gateway logging role outlives the stack."""

from __future__ import annotations

from typing import Any

import pytest

URL_RESOURCES = (
    "ChatStreamFunctionUrl",
    "ChatStreamFunctionUrlPublicPermissions",
    "ChatStreamFunctionURLInvokeAllowPublicAccess",
)


def evaluate(expression: Any, template: dict[str, Any], given: dict[str, str]) -> Any:
    """The rule and condition functions the template uses, as CloudFormation evaluates them
    (parameter values are strings)."""
    if isinstance(expression, dict):
        ((function, argument),) = expression.items()
        if function == "Ref":
            if argument == "AWS::Partition":
                return given.get(argument, "aws")
            default = template["Parameters"][argument].get("Default")
            return str(given.get(argument, default))
        if function == "Condition":
            return evaluate(template["Conditions"][argument], template, given)
        values = [evaluate(item, template, given) for item in argument]
        if function == "Fn::Equals":
            return values[0] == values[1]
        if function == "Fn::Not":
            return not values[0]
        if function == "Fn::Or":
            return any(values)
        if function == "Fn::And":
            return all(values)
        raise AssertionError(f"unexpected function {function}")
    return str(expression)


def refused(template: dict[str, Any], given: dict[str, str]) -> list[str]:
    """The AssertDescription of every rule a deploy with these parameters fails."""
    failures = []
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], template, given):
            continue
        for assertion in rule["Assertions"]:
            if not evaluate(assertion["Assert"], template, given):
                failures.append(assertion["AssertDescription"])
    return failures


def test_the_function_url_is_on_by_default_and_every_piece_of_it_follows_the_switch(
    transformed: dict[str, Any],
) -> None:
    assert transformed["Parameters"]["EnableFunctionUrl"]["Default"] == "true"
    resources = transformed["Resources"]
    for name in URL_RESOURCES:
        assert resources[name]["Condition"] == "HasFunctionUrl", name
    assert transformed["Outputs"]["StreamUrl"]["Condition"] == "HasFunctionUrl"
    # Nothing else SAM might generate for it (a FunctionUrlConfig left behind would be unconditional)
    urls = [k for k, v in resources.items() if v["Type"] == "AWS::Lambda::Url"]
    assert urls == ["ChatStreamFunctionUrl"]
    for given, on in (({}, True), ({"EnableFunctionUrl": "false"}, False)):
        assert evaluate({"Condition": "HasFunctionUrl"}, transformed, given) is on
    # Without a URL nothing invokes the function: it reserves no concurrency from the pool.
    concurrency = resources["ChatStreamFunction"]["Properties"]["ReservedConcurrentExecutions"]
    condition = {"Condition": concurrency["Fn::If"][0]}
    capped = {"StreamReservedConcurrency": "50"}
    assert evaluate(condition, transformed, capped) is True
    assert evaluate(condition, transformed, {**capped, "EnableFunctionUrl": "false"}) is False
    assert evaluate(condition, transformed, {}) is False  # 0 by default: nothing reserved


def test_the_public_url_has_both_permissions_and_no_more(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    url = resources["ChatStreamFunctionUrl"]["Properties"]
    assert url["AuthType"] == "NONE" and url["InvokeMode"] == "RESPONSE_STREAM"
    # The live alias (CodeDeploy shifts it; its permissions name it too), never $LATEST.
    assert url["TargetFunctionArn"] == {"Ref": "ChatStreamFunctionAliaslive"}
    by_url = resources["ChatStreamFunctionUrlPublicPermissions"]["Properties"]
    assert by_url["Action"] == "lambda:InvokeFunctionUrl"
    assert by_url["FunctionUrlAuthType"] == "NONE"
    assert by_url["FunctionName"] == {"Ref": "ChatStreamFunctionAliaslive"}
    invoke = resources["ChatStreamFunctionURLInvokeAllowPublicAccess"]["Properties"]
    assert invoke["FunctionName"] == {"Ref": "ChatStreamFunctionAliaslive"}
    assert invoke["Action"] == "lambda:InvokeFunction"
    assert invoke["InvokedViaFunctionUrl"] is True  # only through the URL, not a direct Invoke


@pytest.mark.parametrize(
    ("given", "refuses"),
    [
        ({}, False),
        ({"StarterDailyQuota": "1000"}, True),
        ({"ProDailyQuota": "50000"}, True),
        ({"EnterpriseDailyQuota": "1"}, True),
        ({"StarterDailyQuota": "1000", "EnableFunctionUrl": "false"}, False),
        ({"EnableFunctionUrl": "false"}, False),
    ],
)
def test_a_daily_quota_with_the_function_url_on_is_refused_at_deploy(
    transformed: dict[str, Any], given: dict[str, str], refuses: bool
) -> None:
    failures = refused(transformed, given)
    assert bool(failures) is refuses
    if refuses:
        assert "EnableFunctionUrl=false" in failures[0]


def test_the_logging_role_is_account_wide_said_so_and_outlives_the_stack(
    transformed: dict[str, Any],
) -> None:
    parameter = transformed["Parameters"]["CreateApiGatewayLoggingRole"]
    assert parameter["Default"] == "true"
    assert "ACCOUNT-WIDE" in parameter["Description"]
    role = transformed["Resources"]["ApiGatewayLoggingRole"]
    assert role["DeletionPolicy"] == "Retain" and role["UpdateReplacePolicy"] == "Retain"
    account = transformed["Resources"]["ApiGatewayAccount"]
    assert account["Properties"]["CloudWatchRoleArn"] == {
        "Fn::GetAtt": ["ApiGatewayLoggingRole", "Arn"]
    }
