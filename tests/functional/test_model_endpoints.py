"""model_endpoints against moto's SageMaker and Application Auto Scaling: deploy, update, teardown."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.responses import ActionResult
from moto.sagemaker.models import FakeEndpointConfig
from moto.sagemaker.responses import SageMakerResponse

from model_endpoints import cli
from model_endpoints.config import load_config
from model_endpoints.deploy import DeployError, EndpointDeployer
from model_endpoints.instances import INSTANCES
from model_endpoints.plan import DeploymentPlan, checked_plans, sam_deploy_command
from sparkai.catalog import MODELS

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerExecution"
NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def _update_endpoint(self: SageMakerResponse) -> ActionResult:
    """UpdateEndpoint, which moto 5.2 lacks: switch the endpoint to the new config, as SageMaker
    does once the blue/green update completes."""
    backend = self.sagemaker_backend
    config = backend.describe_endpoint_config(self._get_param("EndpointConfigName"))
    backend.describe_endpoint(self._get_param("EndpointName"))  # not found -> ValidationException
    endpoint = backend.endpoints[self._get_param("EndpointName")]
    endpoint.endpoint_config_name = config["EndpointConfigName"]
    endpoint.production_variants = endpoint._process_production_variants(
        config["ProductionVariants"]
    )
    return ActionResult({"EndpointArn": endpoint.arn})


_moto_validate_instance_type = FakeEndpointConfig.validate_instance_type


def _validate_instance_type(self: FakeEndpointConfig, instance_type: str) -> None:
    """moto 5.2's instance-type list predates g5, g6 and g6e; accept the GPU table's types."""
    if instance_type not in INSTANCES:
        _moto_validate_instance_type(self, instance_type)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    monkeypatch.setattr(SageMakerResponse, "update_endpoint", _update_endpoint, raising=False)
    monkeypatch.setattr(FakeEndpointConfig, "validate_instance_type", _validate_instance_type)
    with mock_aws():
        yield (
            boto3.client("sagemaker", region_name=REGION),
            boto3.client("application-autoscaling", region_name=REGION),
        )


class FakeTime:
    """An injected clock whose sleep advances it, so elapsed times are exact and tests instant."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def deployer(aws: tuple[Any, Any], fake_time: FakeTime, lines: list[str]) -> EndpointDeployer:
    sagemaker, autoscaling = aws
    return EndpointDeployer(
        sagemaker, autoscaling, sleep=fake_time.sleep, clock=fake_time.clock, echo=lines.append
    )


@pytest.fixture(scope="module")
def plans() -> dict[str, DeploymentPlan]:
    return checked_plans(load_config(), REGION)


def changed_plan(spark_id: str, **changes: Any) -> DeploymentPlan:
    config = load_config()
    models = dict(config.models)
    models[spark_id] = dataclasses.replace(models[spark_id], **changes)
    return checked_plans(dataclasses.replace(config, models=models), REGION)[spark_id]


def model_names(sagemaker: Any) -> set[str]:
    return {m["ModelName"] for m in sagemaker.list_models()["Models"]}


def config_names(sagemaker: Any) -> set[str]:
    return {c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]}


def endpoint_names(sagemaker: Any) -> set[str]:
    return {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]}


def scaling_targets(autoscaling: Any) -> dict[str, Any]:
    targets = autoscaling.describe_scalable_targets(ServiceNamespace=NAMESPACE)["ScalableTargets"]
    return {t["ResourceId"]: t for t in targets}


def scaling_policies(autoscaling: Any) -> dict[str, Any]:
    policies = autoscaling.describe_scaling_policies(ServiceNamespace=NAMESPACE)["ScalingPolicies"]
    return {p["ResourceId"]: p for p in policies}


class ScriptedStatus:
    """The moto client, but describe_endpoint first reports the given statuses (moto's endpoints
    are InService at once, so waiting would otherwise never be exercised)."""

    def __init__(self, client: Any, *statuses: str, reason: str = "") -> None:
        self._client = client
        self._statuses = list(statuses)
        self._reason = reason

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def describe_endpoint(self, **kwargs: Any) -> dict[str, Any]:
        answer = self._client.describe_endpoint(**kwargs)
        if self._statuses:
            answer = {**answer, "EndpointStatus": self._statuses.pop(0)}
            if self._reason:
                answer["FailureReason"] = self._reason
        return answer


class Recorder:
    """The moto client, noting each call's name in a log shared between clients (for ordering)."""

    def __init__(self, client: Any, log: list[str]) -> None:
        self._client = client
        self._log = log

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name in ("get_paginator", "can_paginate"):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self._log.append(name)
            return attribute(*args, **kwargs)

        return call


# -- deploy -------------------------------------------------------------------------------------


def test_deploy_creates_the_planned_models_configs_and_endpoints(
    aws: tuple[Any, Any], deployer: EndpointDeployer, plans: dict[str, DeploymentPlan]
) -> None:
    sagemaker, _ = aws
    results = [deployer.create_or_update(plan, ROLE_ARN) for plan in plans.values()]

    assert [r.action for r in results] == ["created"] * len(MODELS)
    assert endpoint_names(sagemaker) == set(MODELS)
    for plan in plans.values():
        model = sagemaker.describe_model(ModelName=plan.model_name)
        assert model["ExecutionRoleArn"] == ROLE_ARN
        assert model["PrimaryContainer"]["Image"] == plan.image_uri
        assert model["PrimaryContainer"]["Environment"] == plan.environment
        config = sagemaker.describe_endpoint_config(EndpointConfigName=plan.endpoint_config_name)
        (variant,) = config["ProductionVariants"]
        assert variant["ModelName"] == plan.model_name
        assert variant["InstanceType"] == plan.variant.instance_type
        assert variant["InitialInstanceCount"] == plan.variant.initial_instance_count
        assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == (
            plan.source.startup_health_check_timeout_s
        )
        endpoint = sagemaker.describe_endpoint(EndpointName=plan.endpoint_name)
        assert endpoint["EndpointStatus"] == "InService"
        assert endpoint["EndpointConfigName"] == plan.endpoint_config_name


def test_deploy_registers_the_scalable_target_and_policy(
    aws: tuple[Any, Any], deployer: EndpointDeployer, plans: dict[str, DeploymentPlan]
) -> None:
    _, autoscaling = aws
    for plan in plans.values():
        assert deployer.create_or_update(plan, ROLE_ARN).autoscaling

    targets, policies = scaling_targets(autoscaling), scaling_policies(autoscaling)
    assert set(targets) == {plan.resource_id for plan in plans.values()}
    for plan in plans.values():
        target = targets[plan.resource_id]
        assert target["ScalableDimension"] == DIMENSION
        assert (target["MinCapacity"], target["MaxCapacity"]) == (
            plan.autoscaling.min_capacity,
            plan.autoscaling.max_capacity,
        )
        policy = policies[plan.resource_id]
        assert policy["PolicyName"] == plan.scaling_policy_name
        tracking = policy["TargetTrackingScalingPolicyConfiguration"]
        assert tracking["TargetValue"] == plan.autoscaling.target_invocations_per_instance
        assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
            "SageMakerVariantInvocationsPerInstance"
        )


def test_deploy_prints_the_endpoint_name(
    deployer: EndpointDeployer, plans: dict[str, DeploymentPlan], lines: list[str]
) -> None:
    deployer.create_or_update(plans["spark-pro"], ROLE_ARN)
    assert "spark-pro: InService; chat functions invoke endpoint name 'spark-pro'" in lines


def test_deploying_the_same_plan_again_changes_nothing(
    aws: tuple[Any, Any], deployer: EndpointDeployer, plans: dict[str, DeploymentPlan]
) -> None:
    sagemaker, _ = aws
    plan = plans["spark-1"]
    deployer.create_or_update(plan, ROLE_ARN)
    before = (model_names(sagemaker), config_names(sagemaker))

    result = deployer.create_or_update(plan, ROLE_ARN)

    assert result.action == "unchanged"
    assert (model_names(sagemaker), config_names(sagemaker)) == before


def test_a_changed_plan_updates_the_endpoint_to_a_new_config(
    aws: tuple[Any, Any], deployer: EndpointDeployer, plans: dict[str, DeploymentPlan]
) -> None:
    sagemaker, autoscaling = aws
    old = plans["spark-1"]
    deployer.create_or_update(old, ROLE_ARN)
    scaling = dataclasses.replace(old.autoscaling, max_capacity=6)
    new = changed_plan("spark-1", instance_type="ml.g6e.xlarge", autoscaling=scaling)
    assert new.endpoint_config_name != old.endpoint_config_name

    result = deployer.create_or_update(new, ROLE_ARN)

    assert result.action == "updated"
    endpoint = sagemaker.describe_endpoint(EndpointName="spark-1")
    assert endpoint["EndpointConfigName"] == new.endpoint_config_name
    (variant,) = sagemaker.describe_endpoint_config(EndpointConfigName=new.endpoint_config_name)[
        "ProductionVariants"
    ]
    assert variant["InstanceType"] == "ml.g6e.xlarge"
    # The previous config stays for a rollback; teardown removes it.
    assert {old.endpoint_config_name, new.endpoint_config_name} <= config_names(sagemaker)
    target = scaling_targets(autoscaling)[new.resource_id]
    assert target["MaxCapacity"] == 6
    assert set(scaling_policies(autoscaling)) == {new.resource_id}


@pytest.mark.parametrize(
    ("changes", "deregisters"),
    [({"instance_type": "ml.g6e.xlarge"}, True), ({"max_batch_size": 8}, False)],
)
def test_autoscaling_is_lifted_around_an_instance_type_change_only(
    aws: tuple[Any, Any],
    deployer: EndpointDeployer,
    plans: dict[str, DeploymentPlan],
    changes: dict[str, Any],
    deregisters: bool,
) -> None:
    # SageMaker rejects an update changing the instance type of a variant under autoscaling.
    sagemaker, autoscaling = aws
    deployer.create_or_update(plans["spark-1"], ROLE_ARN)
    log: list[str] = []
    recording = EndpointDeployer(
        Recorder(sagemaker, log),
        Recorder(autoscaling, log),
        sleep=lambda s: None,
        echo=lambda s: None,
    )

    recording.create_or_update(changed_plan("spark-1", **changes), ROLE_ARN)

    update = log.index("update_endpoint")
    register = log.index("register_scalable_target")
    assert update < register
    if deregisters:
        assert log.index("deregister_scalable_target") < update
    else:
        assert "deregister_scalable_target" not in log
    assert set(scaling_targets(autoscaling)) == {plans["spark-1"].resource_id}


def test_a_changed_container_creates_a_new_model(
    aws: tuple[Any, Any], deployer: EndpointDeployer, plans: dict[str, DeploymentPlan]
) -> None:
    sagemaker, _ = aws
    deployer.create_or_update(plans["spark-turbo"], ROLE_ARN)
    new = changed_plan("spark-turbo", max_batch_size=128)

    deployer.create_or_update(new, ROLE_ARN)

    model = sagemaker.describe_model(ModelName=new.model_name)
    assert model["PrimaryContainer"]["Environment"]["OPTION_MAX_ROLLING_BATCH_SIZE"] == "128"
    assert sagemaker.describe_endpoint(EndpointName="spark-turbo")["EndpointConfigName"] == (
        new.endpoint_config_name
    )


# -- waiting ------------------------------------------------------------------------------------


def test_deploy_waits_printing_status_and_elapsed_time(
    aws: tuple[Any, Any],
    fake_time: FakeTime,
    lines: list[str],
    plans: dict[str, DeploymentPlan],
) -> None:
    sagemaker, autoscaling = aws
    deployer = EndpointDeployer(
        ScriptedStatus(sagemaker, "Creating", "Creating"),
        autoscaling,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        echo=lines.append,
        poll_seconds=45,
    )

    result = deployer.create_or_update(plans["spark-1"], ROLE_ARN)

    assert result.status == "InService"
    assert fake_time.sleeps == [45, 45]
    assert [line for line in lines if re.search(r"\(\d+m\d\ds\)$", line)] == [
        "spark-1: Creating (0m00s)",
        "spark-1: Creating (0m45s)",
        "spark-1: InService (1m30s)",
    ]


def test_a_failed_endpoint_raises_with_the_reason_and_skips_autoscaling(
    aws: tuple[Any, Any], fake_time: FakeTime, plans: dict[str, DeploymentPlan]
) -> None:
    sagemaker, autoscaling = aws
    deployer = EndpointDeployer(
        ScriptedStatus(sagemaker, "Failed", reason="CUDA out of memory"),
        autoscaling,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        echo=lambda line: None,
    )
    with pytest.raises(DeployError, match="spark-pro is Failed: CUDA out of memory"):
        deployer.create_or_update(plans["spark-pro"], ROLE_ARN)
    assert scaling_targets(autoscaling) == {}


def test_waiting_gives_up_after_the_timeout(
    aws: tuple[Any, Any], fake_time: FakeTime, plans: dict[str, DeploymentPlan]
) -> None:
    sagemaker, autoscaling = aws
    deployer = EndpointDeployer(
        ScriptedStatus(sagemaker, *["Creating"] * 100),
        autoscaling,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        echo=lambda line: None,
        poll_seconds=60,
        timeout_seconds=300,
    )
    with pytest.raises(DeployError, match=r"still Creating after 5m00s"):
        deployer.create_or_update(plans["spark-1"], ROLE_ARN)
    assert len(fake_time.sleeps) == 5


def test_a_rolled_back_update_is_reported(
    aws: tuple[Any, Any], deployer: EndpointDeployer, plans: dict[str, DeploymentPlan]
) -> None:
    sagemaker, autoscaling = aws
    deployer.create_or_update(plans["spark-1"], ROLE_ARN)

    class RollsBack(ScriptedStatus):
        def update_endpoint(self, **kwargs: Any) -> dict[str, Any]:
            return {}  # SageMaker tried the new config, failed, and restored the old one

    rolling = EndpointDeployer(
        RollsBack(sagemaker, "Updating", "RollingBack"),
        autoscaling,
        sleep=lambda s: None,
        echo=lambda s: None,
    )
    with pytest.raises(DeployError, match=r"rolled back and it still serves spark-1-config-"):
        rolling.create_or_update(changed_plan("spark-1", max_batch_size=8), ROLE_ARN)


def test_no_wait_returns_at_once_and_the_next_deploy_registers_autoscaling(
    aws: tuple[Any, Any], fake_time: FakeTime, plans: dict[str, DeploymentPlan]
) -> None:
    sagemaker, autoscaling = aws
    plan = plans["spark-turbo"]
    quick = EndpointDeployer(
        ScriptedStatus(sagemaker, "Creating", "Creating"),
        autoscaling,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        echo=lambda line: None,
    )

    first = quick.create_or_update(plan, ROLE_ARN, wait=False)

    assert (first.action, first.status, first.autoscaling) == ("created", "Creating", False)
    assert fake_time.sleeps == []
    assert scaling_targets(autoscaling) == {}
    # The next describe still says Creating: a second deploy waits for it, then registers scaling.
    second = quick.create_or_update(plan, ROLE_ARN)
    assert (second.action, second.autoscaling) == ("unchanged", True)
    assert set(scaling_targets(autoscaling)) == {plan.resource_id}


# -- status and teardown ------------------------------------------------------------------------


def test_status_reports_deployed_and_missing_endpoints(
    deployer: EndpointDeployer, plans: dict[str, DeploymentPlan]
) -> None:
    deployer.create_or_update(plans["spark-1"], ROLE_ARN)

    deployed = deployer.status(plans["spark-1"])
    missing = deployer.status(plans["spark-pro"])

    assert (deployed.status, deployed.up_to_date, deployed.instance_count) == ("InService", True, 1)
    assert deployed.autoscaling == (1, 4)
    assert (missing.status, missing.endpoint_config_name) == ("NotFound", None)
    stale = changed_plan("spark-1", initial_instance_count=2)
    assert deployer.status(stale).up_to_date is False


def test_teardown_removes_everything_deploys_made(
    aws: tuple[Any, Any], deployer: EndpointDeployer, plans: dict[str, DeploymentPlan]
) -> None:
    sagemaker, autoscaling = aws
    for plan in plans.values():
        deployer.create_or_update(plan, ROLE_ARN)
    deployer.create_or_update(changed_plan("spark-1", max_batch_size=8), ROLE_ARN)
    assert len(config_names(sagemaker)) == len(MODELS) + 1

    results = [deployer.teardown(plan) for plan in plans.values()]

    assert all(r.endpoint_deleted and r.autoscaling for r in results)
    assert len(results[0].endpoint_configs) == 2 and len(results[0].models) == 2
    assert endpoint_names(sagemaker) == set()
    assert config_names(sagemaker) == set()
    assert model_names(sagemaker) == set()
    assert scaling_targets(autoscaling) == {}
    assert scaling_policies(autoscaling) == {}


def test_teardown_leaves_other_resources_alone(
    aws: tuple[Any, Any], deployer: EndpointDeployer, plans: dict[str, DeploymentPlan]
) -> None:
    sagemaker, _ = aws
    container = {"Image": plans["spark-1"].image_uri}
    for other in ("spark-1-finetune", "spark-10-model-0123abcd", "spark-1-model-xyz"):
        sagemaker.create_model(
            ModelName=other, ExecutionRoleArn=ROLE_ARN, PrimaryContainer=container
        )
    deployer.create_or_update(plans["spark-1"], ROLE_ARN)

    deployer.teardown(plans["spark-1"])

    assert model_names(sagemaker) == {
        "spark-1-finetune",
        "spark-10-model-0123abcd",
        "spark-1-model-xyz",
    }


def test_teardown_of_an_undeployed_model_is_harmless(
    deployer: EndpointDeployer, plans: dict[str, DeploymentPlan]
) -> None:
    result = deployer.teardown(plans["spark-pro"])
    assert (
        result.endpoint_deleted,
        result.endpoint_configs,
        result.models,
        result.autoscaling,
    ) == (
        False,
        [],
        [],
        False,
    )


# -- the command line ---------------------------------------------------------------------------


def test_cli_deploy_status_and_teardown(
    aws: tuple[Any, Any], capsys: pytest.CaptureFixture[str], plans: dict[str, DeploymentPlan]
) -> None:
    sagemaker, autoscaling = aws
    region = ["--region", REGION]

    assert cli.main(["deploy", "--model", "all", "--role-arn", ROLE_ARN, *region]) == 0
    out = capsys.readouterr().out
    assert sam_deploy_command(plans.values()) in out
    assert endpoint_names(sagemaker) == set(MODELS)

    assert cli.main(["status", *region]) == 0
    out = capsys.readouterr().out
    for plan in plans.values():
        assert f"{plan.spark_id}: endpoint {plan.endpoint_name} InService" in out
    assert out.count("matches the plan") == len(MODELS)

    assert cli.main(["teardown", "--model", "spark-turbo", "--yes", *region]) == 0
    assert endpoint_names(sagemaker) == {"spark-1", "spark-pro"}
    assert plans["spark-turbo"].resource_id not in scaling_targets(autoscaling)


def test_cli_teardown_asks_first(
    aws: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sagemaker, _ = aws
    assert (
        cli.main(["deploy", "--model", "spark-1", "--role-arn", ROLE_ARN, "--region", REGION]) == 0
    )
    monkeypatch.setattr("builtins.input", lambda prompt: "n")

    assert cli.main(["teardown", "--model", "spark-1", "--region", REGION]) == 1

    assert "Nothing deleted." in capsys.readouterr().out
    assert endpoint_names(sagemaker) == {"spark-1"}


def test_cli_deploy_rejects_a_malformed_role_arn(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["deploy", "--model", "spark-1", "--role-arn", "SageMakerRole"])
    assert caught.value.code == 2
    assert "not an IAM role ARN" in capsys.readouterr().err
