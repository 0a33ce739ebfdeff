"""Issue 25 §3 in template.yaml (after the SAM transform): the pre sign-up trigger is wired to the
dashboard's user pool with no AWS permissions of its own, its domain lists are parameters, and the
trial credit, key cap and dashboard budget reach the DashboardFunction as settings."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from sparkai.config import DashboardSettings, SignUpSettings
from sparkai_local.template import load_template

pytestmark = pytest.mark.template


def test_the_pre_sign_up_trigger_is_wired_to_the_dashboards_pool(
    transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"]
    pool = resources["DashboardUserPool"]["Properties"]
    # Cognito calls the published alias (never $LATEST), and may, for this pool only.
    assert pool["LambdaConfig"]["PreSignUp"] == {"Ref": "PreSignUpFunctionAliaslive"}
    permissions = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"]["FunctionName"] == {"Ref": "PreSignUpFunctionAliaslive"}
    ]
    assert len(permissions) == 1
    assert permissions[0]["Principal"] == "cognito-idp.amazonaws.com"
    assert permissions[0]["SourceArn"] == {"Fn::GetAtt": ["DashboardUserPool", "Arn"]}


def test_the_trigger_has_no_aws_permissions_beyond_its_logs(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    function = resources["PreSignUpFunction"]["Properties"]
    role = resources[function["Role"]["Fn::GetAtt"][0]]["Properties"]
    assert role.get("Policies", []) == []  # it reads the event and its settings, nothing else
    # Only its logs and traces (Tracing: Active, as every function of the stack).
    assert sorted(role["ManagedPolicyArns"]) == [
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    ]
    assert function["Timeout"] <= 5  # Cognito waits 5 s for a trigger


def test_its_refusals_page_no_one_but_its_throttles_do(transformed: dict[str, Any]) -> None:
    """Each refused address is a Lambda error of the trigger (Cognito needs the raise): an alarm
    on its errors would page on every disposable sign-up; throttled, every sign-up fails."""
    alarmed = {
        (a["Properties"].get("MetricName"), json.dumps(a["Properties"].get("Dimensions")))
        for a in transformed["Resources"].values()
        if a["Type"] == "AWS::CloudWatch::Alarm"
    }
    function = json.dumps([{"Name": "FunctionName", "Value": {"Ref": "PreSignUpFunction"}}])
    assert ("Throttles", function) in alarmed
    assert ("Errors", function) not in alarmed


def test_operator_settings_reach_the_functions_by_their_setting_names(
    transformed: dict[str, Any],
) -> None:
    """Each parameter lands in the variable the settings class reads (a renamed field breaks it)."""
    resources = transformed["Resources"]
    expected = {
        "DashboardFunction": {
            "SPARKAI_TRIAL_CREDIT_USD": "TrialCreditUsd",
            "SPARKAI_MAX_ACTIVE_KEYS": "MaxActiveKeysPerAccount",
            "SPARKAI_DASHBOARD_REQUESTS_PER_MINUTE": "DashboardRequestsPerMinute",
        },
        "PreSignUpFunction": {
            "SPARKAI_BLOCKED_EMAIL_DOMAINS": "BlockedEmailDomains",
            "SPARKAI_ALLOWED_EMAIL_DOMAINS": "AllowedEmailDomains",
        },
    }
    fields = {
        "SPARKAI_" + f.upper()
        for cls in (DashboardSettings, SignUpSettings)
        for f in cls.__dataclass_fields__
    }
    for function, variables in expected.items():
        env = resources[function]["Properties"]["Environment"]["Variables"]
        for variable, parameter in variables.items():
            assert variable in fields, variable
            assert env[variable] == {"Ref": parameter}, (function, variable)


def test_parameter_defaults_are_the_settings_defaults_and_pass_their_own_patterns() -> None:
    parameters = load_template()["Parameters"]
    defaults = DashboardSettings()
    assert parameters["TrialCreditUsd"]["Default"] == defaults.trial_credit_usd == "5"
    assert parameters["MaxActiveKeysPerAccount"]["Default"] == defaults.max_active_keys == 20
    assert (
        parameters["DashboardRequestsPerMinute"]["Default"]
        == defaults.dashboard_requests_per_minute
    )
    trial = re.compile(parameters["TrialCreditUsd"]["AllowedPattern"])
    for ok in ("5", "0", "none", "12.50", "0.000001"):
        assert trial.fullmatch(ok), ok
    for bad in ("-1", "5$", "1e3", "", "NaN"):
        assert not trial.fullmatch(bad), bad
    domains = re.compile(parameters["BlockedEmailDomains"]["AllowedPattern"])
    assert domains.fullmatch("") and domains.fullmatch("a.example,b-c.example")
    assert not domains.fullmatch("a.example; rm -rf")
