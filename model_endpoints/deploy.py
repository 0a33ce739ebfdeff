"""Creates, updates and deletes the SageMaker endpoint, and its autoscaling, that a plan describes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from model_endpoints.plan import HASH_LENGTH, SCALABLE_DIMENSION, DeploymentPlan

IN_PROGRESS = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})


class DeployError(RuntimeError):
    """SageMaker could not bring the endpoint to the plan; the message says what to do next."""


@dataclass(frozen=True)
class DeployResult:
    endpoint_name: str
    action: str  # "created", "updated" or "unchanged"
    status: str
    endpoint_config_name: str
    autoscaling: bool  # whether the scalable target and policy are registered


@dataclass(frozen=True)
class EndpointState:
    endpoint_name: str
    status: str  # SageMaker's EndpointStatus, or "NotFound"
    endpoint_config_name: str | None
    up_to_date: bool  # serving the plan's endpoint config
    instance_count: int | None
    autoscaling: tuple[int, int] | None  # (min, max) when registered
    failure_reason: str | None = None


@dataclass(frozen=True)
class TeardownResult:
    endpoint_name: str
    endpoint_deleted: bool
    endpoint_configs: list[str]
    models: list[str]
    autoscaling: bool


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def _not_found(error: ClientError) -> bool:
    # SageMaker answers Describe* for a missing resource with a ValidationException.
    message = error.response.get("Error", {}).get("Message", "")
    return error.response.get("Error", {}).get("Code") == "ValidationException" and (
        "Could not find" in message or "does not exist" in message
    )


class EndpointDeployer:
    """Drives SageMaker and Application Auto Scaling through injected boto3 clients."""

    def __init__(
        self,
        sagemaker: Any,
        autoscaling: Any,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        echo: Callable[[str], None] = print,
        poll_seconds: float = 30.0,
        timeout_seconds: float = 3600.0,
    ) -> None:
        self.sagemaker = sagemaker
        self.autoscaling = autoscaling
        self._sleep = sleep
        self._clock = clock
        self._echo = echo
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds

    # -- deploy --------------------------------------------------------------------------------

    def create_or_update(
        self, plan: DeploymentPlan, role_arn: str, *, wait: bool = True
    ) -> DeployResult:
        """Brings the endpoint to the plan: creates what is missing, updates to a new config, and
        (once InService) registers autoscaling. Safe to run again; an unchanged plan changes nothing."""
        name = plan.endpoint_name
        self._ensure_model(plan, role_arn)
        self._ensure_endpoint_config(plan)
        endpoint = self._describe_endpoint(name)
        if endpoint is not None and endpoint["EndpointStatus"] in IN_PROGRESS:
            if not wait:
                raise DeployError(
                    f"{name} is {endpoint['EndpointStatus']}; deploy again (without --no-wait)"
                    " to wait for it and finish"
                )
            self._echo(f"{name}: {endpoint['EndpointStatus']} already in progress, waiting")
            self.wait_for(name)
            endpoint = self._describe_endpoint(name)

        if endpoint is None:
            self.sagemaker.create_endpoint(
                EndpointName=name, EndpointConfigName=plan.endpoint_config_name, Tags=plan.tags
            )
            action = "created"
        elif endpoint["EndpointStatus"] == "Failed":
            raise DeployError(
                f"{name} failed earlier ({endpoint.get('FailureReason', 'no reason given')});"
                f" delete it with `sparkai-endpoints teardown --model {plan.spark_id}` and deploy again"
            )
        elif endpoint["EndpointConfigName"] == plan.endpoint_config_name:
            action = "unchanged"
        else:
            # SageMaker rejects an update that changes the instance type of a variant
            # registered for autoscaling; it is registered again once the update is done.
            if (
                self._instance_type(endpoint["EndpointConfigName"], plan)
                != plan.variant.instance_type
            ):
                self._deregister_scaling(plan)
            self.sagemaker.update_endpoint(
                EndpointName=name, EndpointConfigName=plan.endpoint_config_name
            )
            action = "updated"
        self._echo(f"{name}: {action} (endpoint config {plan.endpoint_config_name})")

        if not wait and action != "unchanged":
            self._echo(
                f"{name}: not waiting; run deploy again once it is InService to register autoscaling"
            )
            described = self._describe_endpoint(name) or {"EndpointStatus": "Unknown"}
            return DeployResult(
                name, action, described["EndpointStatus"], plan.endpoint_config_name, False
            )
        status = self.wait_for(name)
        serving = (self._describe_endpoint(name) or {}).get("EndpointConfigName")
        if serving != plan.endpoint_config_name:
            raise DeployError(
                f"{name}: the update was rolled back and it still serves {serving};"
                f" see the CloudWatch log group /aws/sagemaker/Endpoints/{name}"
            )
        self._register_scaling(plan)
        self._echo(f"{name}: InService; chat functions invoke endpoint name {name!r}")
        return DeployResult(name, action, status, plan.endpoint_config_name, True)

    def wait_for(self, endpoint_name: str) -> str:
        """Polls until InService, printing status and elapsed time; raises if it fails or stalls."""
        start = self._clock()
        while True:
            endpoint = self._describe_endpoint(endpoint_name)
            status = endpoint["EndpointStatus"] if endpoint else "NotFound"
            elapsed = self._clock() - start
            self._echo(f"{endpoint_name}: {status} ({_elapsed(elapsed)})")
            if status == "InService":
                return status
            if status not in IN_PROGRESS:
                reason = (endpoint or {}).get("FailureReason", "no reason given")
                raise DeployError(f"{endpoint_name} is {status}: {reason}")
            if elapsed >= self.timeout_seconds:
                raise DeployError(
                    f"{endpoint_name} is still {status} after {_elapsed(elapsed)};"
                    " check it with `sparkai-endpoints status`"
                )
            self._sleep(self.poll_seconds)

    def _ensure_model(self, plan: DeploymentPlan, role_arn: str) -> None:
        # The name hashes image and environment, so an existing model is already the planned one.
        if self._exists(self.sagemaker.describe_model, ModelName=plan.model_name):
            return
        self.sagemaker.create_model(
            ModelName=plan.model_name,
            ExecutionRoleArn=role_arn,
            PrimaryContainer={
                "Image": plan.image_uri,
                "Mode": "SingleModel",
                "Environment": dict(plan.environment),
            },
            Tags=plan.tags,
        )
        self._echo(f"{plan.endpoint_name}: created model {plan.model_name}")

    def _ensure_endpoint_config(self, plan: DeploymentPlan) -> None:
        name = plan.endpoint_config_name
        if self._exists(self.sagemaker.describe_endpoint_config, EndpointConfigName=name):
            return
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[plan.variant.to_api()],
            Tags=plan.tags,
        )
        self._echo(f"{plan.endpoint_name}: created endpoint config {name}")

    def _instance_type(self, config_name: str, plan: DeploymentPlan) -> str | None:
        try:
            config = self.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        except ClientError as error:
            if _not_found(error):
                return None
            raise
        for variant in config.get("ProductionVariants", []):
            if variant.get("VariantName") == plan.variant.variant_name:
                instance_type: str | None = variant.get("InstanceType")
                return instance_type
        return None

    # -- autoscaling ---------------------------------------------------------------------------

    def _register_scaling(self, plan: DeploymentPlan) -> None:
        # Both calls are upserts, so a changed min/max/target applies without a new endpoint config.
        self.autoscaling.register_scalable_target(**plan.scalable_target())
        self.autoscaling.put_scaling_policy(**plan.scaling_policy())
        scaling = plan.autoscaling
        self._echo(
            f"{plan.endpoint_name}: autoscaling {scaling.min_capacity}-{scaling.max_capacity}"
            f" instances at {scaling.target_invocations_per_instance:g} invocations/instance/minute"
        )

    def _scaling_target(self, plan: DeploymentPlan) -> dict[str, Any] | None:
        targets = self.autoscaling.describe_scalable_targets(
            ServiceNamespace="sagemaker",
            ResourceIds=[plan.resource_id],
            ScalableDimension=SCALABLE_DIMENSION,
        )["ScalableTargets"]
        return next((t for t in targets if t["ResourceId"] == plan.resource_id), None)

    def _deregister_scaling(self, plan: DeploymentPlan) -> bool:
        policies = self.autoscaling.describe_scaling_policies(
            ServiceNamespace="sagemaker",
            ResourceId=plan.resource_id,
            ScalableDimension=SCALABLE_DIMENSION,
        )["ScalingPolicies"]
        for policy in policies:
            if policy["ResourceId"] == plan.resource_id:
                self.autoscaling.delete_scaling_policy(
                    PolicyName=policy["PolicyName"],
                    ServiceNamespace="sagemaker",
                    ResourceId=plan.resource_id,
                    ScalableDimension=SCALABLE_DIMENSION,
                )
        target = self._scaling_target(plan)
        if target is not None:
            self.autoscaling.deregister_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=plan.resource_id,
                ScalableDimension=SCALABLE_DIMENSION,
            )
            self._echo(f"{plan.endpoint_name}: deregistered autoscaling")
        return target is not None or bool(policies)

    # -- status and teardown -------------------------------------------------------------------

    def status(self, plan: DeploymentPlan) -> EndpointState:
        endpoint = self._describe_endpoint(plan.endpoint_name)
        if endpoint is None:
            return EndpointState(plan.endpoint_name, "NotFound", None, False, None, None)
        variant: dict[str, Any] = next(
            (
                v
                for v in endpoint.get("ProductionVariants", [])
                if v.get("VariantName") == plan.variant.variant_name
            ),
            {},
        )
        target = self._scaling_target(plan)
        return EndpointState(
            endpoint_name=plan.endpoint_name,
            status=endpoint["EndpointStatus"],
            endpoint_config_name=endpoint.get("EndpointConfigName"),
            up_to_date=endpoint.get("EndpointConfigName") == plan.endpoint_config_name,
            instance_count=variant.get("CurrentInstanceCount"),
            autoscaling=(target["MinCapacity"], target["MaxCapacity"]) if target else None,
            failure_reason=endpoint.get("FailureReason"),
        )

    def teardown(self, plan: DeploymentPlan) -> TeardownResult:
        """Deletes autoscaling, the endpoint, and every model and endpoint config a deploy made
        for it (previous versions included, which deploys keep for rollback)."""
        name = plan.endpoint_name
        scaling = self._deregister_scaling(plan)
        deleted = self._describe_endpoint(name) is not None
        if deleted:
            self.sagemaker.delete_endpoint(EndpointName=name)
            self._echo(f"{name}: deleted endpoint")
        configs = self._owned_names(
            "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", plan, "config"
        )
        for config in configs:
            self.sagemaker.delete_endpoint_config(EndpointConfigName=config)
            self._echo(f"{name}: deleted endpoint config {config}")
        models = self._owned_names("list_models", "Models", "ModelName", plan, "model")
        for model in models:
            self.sagemaker.delete_model(ModelName=model)
            self._echo(f"{name}: deleted model {model}")
        return TeardownResult(name, deleted, configs, models, scaling)

    def _owned_names(
        self, operation: str, key: str, field: str, plan: DeploymentPlan, kind: str
    ) -> list[str]:
        # Only names this tool gives: "<endpoint>-model-<hash>" / "<endpoint>-config-<hash>".
        pattern = re.compile(rf"{re.escape(plan.endpoint_name)}-{kind}-[0-9a-f]{{{HASH_LENGTH}}}")
        pages = self.sagemaker.get_paginator(operation).paginate(NameContains=plan.endpoint_name)
        names = (item[field] for page in pages for item in page.get(key, []))
        return sorted(n for n in names if pattern.fullmatch(n))

    # -- helpers -------------------------------------------------------------------------------

    def _describe_endpoint(self, name: str) -> dict[str, Any] | None:
        try:
            described: dict[str, Any] = self.sagemaker.describe_endpoint(EndpointName=name)
            return described
        except ClientError as error:
            if _not_found(error):
                return None
            raise

    @staticmethod
    def _exists(describe: Callable[..., Any], **kwargs: str) -> bool:
        try:
            describe(**kwargs)
        except ClientError as error:
            if _not_found(error):
                return False
            raise
        return True
