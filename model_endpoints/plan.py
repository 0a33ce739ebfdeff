"""The deployment plan for each spark model, built from models.toml and checked before any AWS call."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from model_endpoints import economics
from model_endpoints.config import (
    AutoscalingConfig,
    EndpointsConfig,
    GenerationDefaults,
    ModelConfig,
    PlanError,
    load_config,
)
from model_endpoints.instances import INSTANCES, GpuInstance, get_instance
from sparkai.catalog import MODELS, SparkModel

# template.yaml's AllowedPattern for Spark1EndpointName, SparkTurboEndpointName, SparkProEndpointName.
ENDPOINT_NAME_PATTERN = r"^[a-z0-9](-*[a-z0-9]){0,62}$"
SAGEMAKER_NAME_MAX = 63
HASH_LENGTH = 8
# Model and endpoint-config names are "<endpoint>-model-<hash>" and "<endpoint>-config-<hash>".
MAX_ENDPOINT_NAME = SAGEMAKER_NAME_MAX - len("-config-") - HASH_LENGTH
ALLOWED_LICENSES = frozenset({"apache-2.0", "mit", "bsd-3-clause"})
SPEED_MODEL = "spark-turbo"  # must be served by the smallest model
WEIGHT_OVERHEAD = economics.WEIGHT_OVERHEAD
TIMEOUT_RANGE = (60, 3600)  # what CreateEndpointConfig accepts for both container timeouts
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
SCALING_METRIC = "SageMakerVariantInvocationsPerInstance"
# The container variables the plan derives from typed config fields; setting them in an env
# table too would leave two answers to one question.
DERIVED_ENV = {
    "HF_MODEL_ID": "hf_model_id",
    "OPTION_MAX_MODEL_LEN": "max_model_len",
    "OPTION_TENSOR_PARALLEL_DEGREE": "tensor_parallel_degree",
    "OPTION_MAX_ROLLING_BATCH_SIZE": "max_batch_size",
    "OPTION_GPU_MEMORY_UTILIZATION": "gpu_memory_utilization",
}
QUANTIZE_ENV = "OPTION_QUANTIZE"  # derived from `quantization` (fp8 only)


@dataclass(frozen=True)
class ProductionVariant:
    variant_name: str
    model_name: str
    instance_type: str
    initial_instance_count: int
    startup_health_check_timeout_s: int
    model_download_timeout_s: int

    def to_api(self) -> dict[str, Any]:
        """The ProductionVariants entry of CreateEndpointConfig."""
        return {
            "VariantName": self.variant_name,
            "ModelName": self.model_name,
            "InstanceType": self.instance_type,
            "InitialInstanceCount": self.initial_instance_count,
            "InitialVariantWeight": 1.0,
            "ContainerStartupHealthCheckTimeoutInSeconds": self.startup_health_check_timeout_s,
            "ModelDataDownloadTimeoutInSeconds": self.model_download_timeout_s,
        }


@dataclass(frozen=True)
class DeploymentPlan:
    spark_id: str
    endpoint_name: str
    region: str
    model_name: str
    endpoint_config_name: str
    image_uri: str
    environment: dict[str, str]
    variant: ProductionVariant
    autoscaling: AutoscalingConfig
    generation: GenerationDefaults
    source: ModelConfig  # the models.toml entry this plan was built from
    catalog: SparkModel

    @property
    def resource_id(self) -> str:
        """The variant as Application Auto Scaling names it."""
        return f"endpoint/{self.endpoint_name}/variant/{self.variant.variant_name}"

    @property
    def scaling_policy_name(self) -> str:
        return f"{self.endpoint_name}-invocations-per-instance"

    @property
    def template_parameter(self) -> str:
        return template_parameter(self.spark_id)

    @property
    def tags(self) -> list[dict[str, str]]:
        return [
            {"Key": "sparkai:spark-model", "Value": self.spark_id},
            {"Key": "sparkai:managed-by", "Value": "sparkai-endpoints"},
        ]

    def scalable_target(self) -> dict[str, Any]:
        """RegisterScalableTarget's arguments."""
        return {
            "ServiceNamespace": "sagemaker",
            "ResourceId": self.resource_id,
            "ScalableDimension": SCALABLE_DIMENSION,
            "MinCapacity": self.autoscaling.min_capacity,
            "MaxCapacity": self.autoscaling.max_capacity,
        }

    def scaling_policy(self) -> dict[str, Any]:
        """PutScalingPolicy's arguments: target tracking on invocations per instance."""
        return {
            "PolicyName": self.scaling_policy_name,
            "ServiceNamespace": "sagemaker",
            "ResourceId": self.resource_id,
            "ScalableDimension": SCALABLE_DIMENSION,
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": self.autoscaling.target_invocations_per_instance,
                "PredefinedMetricSpecification": {"PredefinedMetricType": SCALING_METRIC},
                "ScaleOutCooldown": self.autoscaling.scale_out_cooldown_s,
                "ScaleInCooldown": self.autoscaling.scale_in_cooldown_s,
            },
        }

    def weights_gib_per_gpu(self) -> float:
        """The weights as served (bf16, FP8 or AWQ) on each tensor-parallel shard."""
        quantization = self.source.quantization
        if quantization not in economics.QUANTIZATIONS:
            quantization = "none"  # reported by validate
        total = economics.weights_gib(self.source, quantization)
        return total / max(self.source.tensor_parallel_degree, 1)

    def required_gib_per_gpu(self) -> float:
        return self.weights_gib_per_gpu() * WEIGHT_OVERHEAD

    def to_dict(self) -> dict[str, Any]:
        instance = get_instance(self.variant.instance_type)
        return {
            "spark_model": self.spark_id,
            "endpoint_name": self.endpoint_name,
            "template_parameter": self.template_parameter,
            "region": self.region,
            "hf_model_id": self.source.hf_model_id,
            "license": self.source.license,
            "parameters_billion": self.source.parameters_billion,
            "native_context_length": self.source.native_context_length,
            "catalog": {
                "context_length": self.catalog.context_length,
                "max_tokens": self.catalog.max_tokens,
            },
            "model_name": self.model_name,
            "endpoint_config_name": self.endpoint_config_name,
            "image_uri": self.image_uri,
            "environment": dict(self.environment),
            "production_variant": self.variant.to_api(),
            "instance": {
                "type": self.variant.instance_type,
                "gpu": instance.gpu if instance else None,
                "gpu_count": instance.gpu_count if instance else None,
                "gib_per_gpu": instance.gib_per_gpu if instance else None,
                "tensor_parallel_degree": self.source.tensor_parallel_degree,
                "weights_gib_per_gpu": round(self.weights_gib_per_gpu(), 1),
                "required_gib_per_gpu": round(self.required_gib_per_gpu(), 1),
            },
            "autoscaling": {
                **asdict(self.autoscaling),
                "scalable_target": self.scalable_target(),
                "scaling_policy": self.scaling_policy(),
            },
            "generation_defaults": asdict(self.generation),
            "serving": self.serving_summary(),
            "tags": self.tags,
        }

    def serving_summary(self) -> dict[str, Any]:
        """The economics of the configured serving option (None when no cited figure backs it)."""
        option = economics.configured(self.source)
        revenue = economics.revenue_per_million_tokens(self.catalog)
        if option is None:
            return {"quantization": self.source.quantization, "cited": False}
        cost = option.cost_per_million_tokens()
        return {
            "quantization": self.source.quantization,
            "cited": True,
            "stream_tokens_per_second": round(option.stream_tokens_per_second, 1),
            "instance_tokens_per_second": round(option.instance_tokens_per_second, 1),
            "first_token_seconds": round(option.first_token_seconds, 3),
            "price_per_hour": str(option.price_per_hour),
            "utilisation": str(economics.UTILISATION),
            "cost_per_million_tokens": str(round(cost, 4)),
            "revenue_per_million_tokens": str(revenue),
            "break_even_utilisation": str(
                round(economics.break_even_utilisation(option, self.catalog), 4)
            ),
            "source": option.figure.source,
            "basis": option.figure.basis,
        }


def template_parameter(spark_id: str) -> str:
    """The template.yaml parameter naming a model's endpoint: spark-1 -> Spark1EndpointName."""
    return "".join(part.capitalize() for part in spark_id.split("-")) + "EndpointName"


def sam_deploy_command(plans: Iterable[DeploymentPlan]) -> str:
    overrides = " ".join(f"{p.template_parameter}={p.endpoint_name}" for p in plans)
    return f"sam deploy --parameter-overrides {overrides}"


@functools.cache
def resolve_image_uri(framework: str, version: str, region: str) -> str:
    """The serving image's ECR URI, from the SDK's bundled tables (offline, no credentials)."""
    # Imported here, not at the top: the SDK takes a second to import, which --help need not pay.
    from sagemaker.core import image_uris

    uri: str = image_uris.retrieve(framework, region=region, version=version)
    return uri


def container_environment(config: EndpointsConfig, model: ModelConfig) -> dict[str, str]:
    derived = {env: str(getattr(model, field)) for env, field in DERIVED_ENV.items()}
    # LMI's vLLM guide: FP8 is quantized at load time (OPTION_QUANTIZE=fp8); a pre-quantized AWQ
    # checkpoint must NOT name its quantization, or vLLM skips its Marlin kernels.
    if model.quantization == "fp8":
        derived[QUANTIZE_ENV] = "fp8"
    # Derived values last, so the typed fields are what the container gets (clashes are reported).
    return {**config.container.env, **model.env, **derived}


def _short_hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def build_plan(
    config: EndpointsConfig, model: ModelConfig, region: str, catalog: SparkModel
) -> DeploymentPlan:
    """One model's plan, unchecked. Names carry a hash of what they hold, so any change to the
    container or the variant gives new resources and an update, never an in-place edit."""
    image_uri = resolve_image_uri(config.container.framework, config.container.version, region)
    environment = container_environment(config, model)
    endpoint = model.endpoint_name
    model_name = f"{endpoint}-model-{_short_hash({'image': image_uri, 'env': environment})}"
    variant = ProductionVariant(
        variant_name=config.variant_name,
        model_name=model_name,
        instance_type=model.instance_type,
        initial_instance_count=model.initial_instance_count,
        startup_health_check_timeout_s=model.startup_health_check_timeout_s,
        model_download_timeout_s=model.model_download_timeout_s,
    )
    return DeploymentPlan(
        spark_id=model.spark_id,
        endpoint_name=endpoint,
        region=region,
        model_name=model_name,
        endpoint_config_name=f"{endpoint}-config-{_short_hash(variant.to_api())}",
        image_uri=image_uri,
        environment=environment,
        variant=variant,
        autoscaling=model.autoscaling,
        generation=model.generation,
        source=model,
        catalog=catalog,
    )


def build_plans(
    config: EndpointsConfig, region: str, catalog: Mapping[str, SparkModel] = MODELS
) -> dict[str, DeploymentPlan]:
    """A plan for every configured model the catalog knows, unchecked (see validate)."""
    problems: list[str] = []
    plans: dict[str, DeploymentPlan] = {}
    # In catalog order (the template's order too); models the catalog lacks are reported by validate.
    for spark_id, spark_model in catalog.items():
        if spark_id not in config.models:
            continue
        try:
            plans[spark_id] = build_plan(config, config.models[spark_id], region, spark_model)
        except ValueError as exc:  # the SDK's answer for an unknown region or image version
            problems.append(f"{spark_id}: no {config.container.framework} image: {exc}")
    if problems:
        raise PlanError(problems)
    return plans


def _check_catalog(config: EndpointsConfig, catalog: Mapping[str, SparkModel]) -> list[str]:
    problems = [
        f"{spark_id}: in sparkai.catalog but models.toml has no [models.{spark_id}]"
        for spark_id in catalog
        if spark_id not in config.models
    ]
    problems += [
        f"{spark_id}: [models.{spark_id}] is not a model in sparkai.catalog"
        f" (it has {', '.join(catalog)})"
        for spark_id in config.models
        if spark_id not in catalog
    ]
    return problems


def _check_context(plan: DeploymentPlan) -> list[str]:
    problems = []
    name, model = plan.spark_id, plan.source
    raw = plan.environment.get("OPTION_MAX_MODEL_LEN", "")
    context = int(raw) if raw.isdigit() else 0
    if context < plan.catalog.context_length:
        problems.append(
            f"{name}: container context OPTION_MAX_MODEL_LEN={raw or 'unset'} is below the"
            f" catalog context_length {plan.catalog.context_length}"
        )
    if context <= plan.catalog.max_tokens:
        problems.append(
            f"{name}: container context OPTION_MAX_MODEL_LEN={raw or 'unset'} must exceed the"
            f" catalog max_tokens {plan.catalog.max_tokens}, leaving room for the prompt"
        )
    if context > model.native_context_length:
        problems.append(
            f"{name}: max_model_len {context} exceeds {model.hf_model_id}'s native context"
            f" {model.native_context_length}"
        )
    return problems


def _check_names(plan: DeploymentPlan) -> list[str]:
    name = plan.endpoint_name
    if not re.fullmatch(ENDPOINT_NAME_PATTERN, name):
        return [
            f"{plan.spark_id}: endpoint name {name!r} does not match template.yaml's pattern"
            f" {ENDPOINT_NAME_PATTERN} (lower-case letters, digits and hyphens)"
        ]
    if len(name) > MAX_ENDPOINT_NAME:
        return [
            f"{plan.spark_id}: endpoint name {name!r} has {len(name)} characters; at most"
            f" {MAX_ENDPOINT_NAME} leave room for the model and endpoint-config name suffixes"
        ]
    return []


def _check_instance(plan: DeploymentPlan) -> list[str]:
    name, model = plan.spark_id, plan.source
    instance: GpuInstance | None = get_instance(model.instance_type)
    if instance is None:
        return [
            f"{name}: unknown GPU instance type {model.instance_type!r}"
            f" (known: {', '.join(sorted(INSTANCES))})"
        ]
    problems = []
    tp = model.tensor_parallel_degree
    if tp < 1 or tp > instance.gpu_count:
        problems.append(
            f"{name}: tensor_parallel_degree {tp} must be between 1 and the"
            f" {instance.gpu_count} GPU(s) of {instance.instance_type}"
        )
    elif plan.required_gib_per_gpu() > instance.gib_per_gpu:
        problems.append(
            f"{name}: {model.hf_model_id} ({model.parameters_billion}B parameters) needs"
            f" ~{plan.required_gib_per_gpu():.1f} GiB per GPU ({model.quantization}) at"
            f" tensor_parallel_degree"
            f" {tp}, but {instance.instance_type} has {instance.gib_per_gpu} GiB per GPU:"
            " raise tensor_parallel_degree or choose a larger instance"
        )
    if plan.environment.get("OPTION_DTYPE") == "bf16" and not instance.bf16:
        problems.append(
            f"{name}: {instance.instance_type}'s {instance.gpu} GPUs do not support bf16"
        )
    if not 0.5 <= model.gpu_memory_utilization <= 0.98:
        problems.append(
            f"{name}: gpu_memory_utilization {model.gpu_memory_utilization} should be 0.5-0.98"
        )
    if model.max_batch_size < 1:
        problems.append(f"{name}: max_batch_size must be at least 1")
    return problems


def _check_serving(plan: DeploymentPlan) -> list[str]:
    name, model, scaling = plan.spark_id, plan.source, plan.autoscaling
    problems = []
    if model.license.lower() not in ALLOWED_LICENSES:
        problems.append(
            f"{name}: licence {model.license!r} of {model.hf_model_id} is not one of"
            f" {', '.join(sorted(ALLOWED_LICENSES))}"
        )
    if scaling.min_capacity < 1:
        problems.append(f"{name}: autoscaling min_capacity must be at least 1")
    if not scaling.min_capacity <= model.initial_instance_count <= scaling.max_capacity:
        problems.append(
            f"{name}: autoscaling needs min_capacity <= initial_instance_count <= max_capacity,"
            f" got {scaling.min_capacity} <= {model.initial_instance_count} <= {scaling.max_capacity}"
        )
    if scaling.target_invocations_per_instance <= 0:
        problems.append(f"{name}: target_invocations_per_instance must be positive")
    if scaling.scale_in_cooldown_s < 0 or scaling.scale_out_cooldown_s < 0:
        problems.append(f"{name}: autoscaling cooldowns cannot be negative")
    low, high = TIMEOUT_RANGE
    for field in ("startup_health_check_timeout_s", "model_download_timeout_s"):
        if not low <= getattr(model, field) <= high:
            problems.append(f"{name}: {field} must be {low}-{high} seconds")
    generation = plan.generation
    if not 0 <= generation.temperature <= 2 or not 0 < generation.top_p <= 1:
        problems.append(
            f"{name}: generation defaults need 0 <= temperature <= 2 and 0 < top_p <= 1"
        )
    if generation.top_k < -1 or generation.top_k == 0 or generation.repetition_penalty <= 0:
        problems.append(
            f"{name}: generation defaults need top_k -1 or >= 1, repetition_penalty > 0"
        )
    return problems


def _check_env(config: EndpointsConfig, plan: DeploymentPlan) -> list[str]:
    tables = {
        "[container.env]": config.container.env,
        f"[models.{plan.spark_id}.env]": plan.source.env,
    }
    derived = {**DERIVED_ENV, QUANTIZE_ENV: "quantization"}
    return [
        f"{plan.spark_id}: {table} sets {key}; set `{derived[key]}` instead"
        for table, env in tables.items()
        for key in env
        if key in derived
    ]


def _check_quantization(plan: DeploymentPlan) -> list[str]:
    model = plan.source
    if model.quantization == "awq" and "awq" not in model.hf_model_id.lower():
        return [
            f"{plan.spark_id}: quantization awq needs a pre-quantized checkpoint"
            f" (e.g. {model.hf_model_id}-AWQ), not {model.hf_model_id}"
        ]
    return []


def validate(
    config: EndpointsConfig,
    plans: Mapping[str, DeploymentPlan],
    catalog: Mapping[str, SparkModel] = MODELS,
) -> list[str]:
    """Every problem with the plans, as sentences naming the model and the fix."""
    problems = _check_catalog(config, catalog)
    for plan in plans.values():
        problems += _check_context(plan)
        problems += _check_names(plan)
        problems += _check_instance(plan)
        problems += _check_serving(plan)
        problems += _check_env(config, plan)
        problems += _check_quantization(plan)
    endpoints: dict[str, str] = {}
    for plan in plans.values():
        if plan.endpoint_name in endpoints:
            problems.append(
                f"{plan.spark_id}: endpoint name {plan.endpoint_name!r} is also"
                f" {endpoints[plan.endpoint_name]}'s"
            )
        endpoints.setdefault(plan.endpoint_name, plan.spark_id)
    turbo = plans.get(SPEED_MODEL)
    if turbo is not None:
        for plan in plans.values():
            if (
                plan is not turbo
                and plan.source.parameters_billion <= turbo.source.parameters_billion
            ):
                problems.append(
                    f"{SPEED_MODEL}: must be the smallest model, but {turbo.source.hf_model_id}"
                    f" ({turbo.source.parameters_billion}B) is not smaller than {plan.spark_id}'s"
                    f" {plan.source.hf_model_id} ({plan.source.parameters_billion}B)"
                )
    return problems


def serving_problems(plans: Mapping[str, DeploymentPlan]) -> list[str]:
    """Whether each plan serves as cheaply as its cited figures allow, at its promised speed.

    Kept apart from validate: a deployable plan may be a poor bargain, and `plan`/`deploy` say so.
    """
    return [problem for plan in plans.values() for problem in economics.check(plan.source)]


def checked_plans(
    config: EndpointsConfig | None = None,
    region: str | None = None,
    catalog: Mapping[str, SparkModel] = MODELS,
) -> dict[str, DeploymentPlan]:
    """Builds and validates every plan; raises PlanError listing all problems."""
    config = config if config is not None else load_config()
    plans = build_plans(config, region or config.region, catalog)
    problems = validate(config, plans, catalog)
    if problems:
        raise PlanError(problems)
    return plans
