"""model_endpoints plans, built and validated offline: the shipped models.toml and broken variants."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from model_endpoints import cli
from model_endpoints.config import (
    DEFAULT_CONFIG,
    EndpointsConfig,
    PlanError,
    load_config,
    parse_config,
)
from model_endpoints.plan import (
    ENDPOINT_NAME_PATTERN,
    DeploymentPlan,
    checked_plans,
    sam_deploy_command,
    template_parameter,
)
from sparkai.catalog import MODELS

ROOT = Path(__file__).resolve().parents[2]
ECR_URI = re.compile(
    r"^763104351884\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/djl-inference:"
    r"(?P<version>\d+\.\d+\.\d+)-lmi\d+\.\d+\.\d+-cu\d+$"
)


@pytest.fixture(scope="module")
def config() -> EndpointsConfig:
    return load_config()


@pytest.fixture(scope="module")
def plans(config: EndpointsConfig) -> dict[str, DeploymentPlan]:
    return checked_plans(config, "us-east-1")


def changed(config: EndpointsConfig, spark_id: str, **changes: Any) -> EndpointsConfig:
    """The config with one model's fields replaced."""
    models = dict(config.models)
    models[spark_id] = dataclasses.replace(models[spark_id], **changes)
    return dataclasses.replace(config, models=models)


def problems_of(config: EndpointsConfig) -> list[str]:
    with pytest.raises(PlanError) as caught:
        checked_plans(config, "us-east-1")
    return caught.value.problems


def template_parameters() -> dict[str, Any]:
    class TemplateLoader(yaml.SafeLoader):
        """Reads template.yaml without resolving its CloudFormation tags (!Ref, !Sub...)."""

    TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)
    with (ROOT / "template.yaml").open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=TemplateLoader)["Parameters"]  # noqa: S506 (safe loader subclass)


# -- the shipped plan ---------------------------------------------------------------------------


def test_every_catalog_model_has_a_valid_plan(plans: dict[str, DeploymentPlan]) -> None:
    assert list(plans) == list(MODELS)
    for spark_id, plan in plans.items():
        assert plan.endpoint_name == spark_id  # the template's default parameter values
        assert plan.catalog is MODELS[spark_id]


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_image_uris_are_the_pinned_lmi_image_in_the_regions_ecr(
    config: EndpointsConfig, region: str
) -> None:
    for plan in checked_plans(config, region).values():
        match = ECR_URI.match(plan.image_uri)
        assert match, plan.image_uri
        assert match["region"] == region
        assert match["version"] == config.container.version
        assert plan.region == region


def test_container_environment_is_as_configured(
    config: EndpointsConfig, plans: dict[str, DeploymentPlan]
) -> None:
    for spark_id, plan in plans.items():
        model, env = config.models[spark_id], plan.environment
        assert env["HF_MODEL_ID"] == model.hf_model_id
        assert env["OPTION_MAX_MODEL_LEN"] == str(MODELS[spark_id].context_length)
        assert env["OPTION_TENSOR_PARALLEL_DEGREE"] == str(model.tensor_parallel_degree)
        assert env["OPTION_MAX_ROLLING_BATCH_SIZE"] == str(model.max_batch_size)
        assert env["OPTION_GPU_MEMORY_UTILIZATION"] == str(model.gpu_memory_utilization)
        # vLLM async mode: /invocations speaks the OpenAI messages schema the chat code sends.
        assert env["OPTION_ASYNC_MODE"] == "true"
        assert env["OPTION_ENTRYPOINT"] == "djl_python.lmi_vllm.vllm_async_service"
        assert env["OPTION_DTYPE"] == "bf16"
        assert all(isinstance(value, str) for value in env.values())


def test_every_qwen_model_parses_tool_calls_and_decodes_under_guidance(
    plans: dict[str, DeploymentPlan],
) -> None:
    # The chat API sends tools and response_format (docs/api.md): without these vLLM answers
    # tool_choice "auto" with a 400 and returns Qwen's <tool_call> text unparsed.
    for plan in plans.values():
        assert plan.environment["HF_MODEL_ID"].startswith("Qwen/Qwen2.5-")
        assert plan.environment["OPTION_ENABLE_AUTO_TOOL_CHOICE"] == "true"
        assert plan.environment["OPTION_TOOL_CALL_PARSER"] == "hermes"
        # Not "xgrammar": without fallback it refuses enums and length bounds on vLLM 0.8 V1.
        assert plan.environment["OPTION_GUIDED_DECODING_BACKEND"] == "auto"


def test_the_chosen_models_and_instances(plans: dict[str, DeploymentPlan]) -> None:
    chosen = {
        spark_id: (
            plan.source.hf_model_id,
            plan.variant.instance_type,
            plan.source.tensor_parallel_degree,
            plan.source.license,
        )
        for spark_id, plan in plans.items()
    }
    assert chosen == {
        "spark-1": ("Qwen/Qwen2.5-7B-Instruct", "ml.g5.2xlarge", 1, "apache-2.0"),
        "spark-turbo": ("Qwen/Qwen2.5-1.5B-Instruct", "ml.g5.xlarge", 1, "apache-2.0"),
        "spark-pro": ("Qwen/Qwen2.5-14B-Instruct", "ml.g5.12xlarge", 4, "apache-2.0"),
    }


def test_production_variant_carries_instance_count_and_timeouts(
    plans: dict[str, DeploymentPlan],
) -> None:
    variant = plans["spark-pro"].variant.to_api()
    assert variant == {
        "VariantName": "AllTraffic",
        "ModelName": plans["spark-pro"].model_name,
        "InstanceType": "ml.g5.12xlarge",
        "InitialInstanceCount": 1,
        "InitialVariantWeight": 1.0,
        "ContainerStartupHealthCheckTimeoutInSeconds": 1200,
        "ModelDataDownloadTimeoutInSeconds": 1200,
    }


def test_autoscaling_targets_invocations_per_instance(plans: dict[str, DeploymentPlan]) -> None:
    plan = plans["spark-turbo"]
    assert plan.scalable_target() == {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/spark-turbo/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": 1,
        "MaxCapacity": 4,
    }
    policy = plan.scaling_policy()["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert policy["TargetValue"] == 200


def test_weights_estimate_is_bf16_bytes_with_overhead_per_shard(
    plans: dict[str, DeploymentPlan],
) -> None:
    pro = plans["spark-pro"]  # 14.7B parameters over 4 GPUs
    assert pro.weights_gib_per_gpu() == pytest.approx(14.7e9 * 2 / 2**30 / 4)
    assert pro.required_gib_per_gpu() == pytest.approx(pro.weights_gib_per_gpu() * 1.2)


# -- names that change with content -------------------------------------------------------------


def test_names_are_stable_and_carry_a_short_content_hash(
    config: EndpointsConfig, plans: dict[str, DeploymentPlan]
) -> None:
    again = checked_plans(config, "us-east-1")
    for spark_id, plan in plans.items():
        assert re.fullmatch(rf"{spark_id}-model-[0-9a-f]{{8}}", plan.model_name)
        assert re.fullmatch(rf"{spark_id}-config-[0-9a-f]{{8}}", plan.endpoint_config_name)
        assert again[spark_id].model_name == plan.model_name
        assert again[spark_id].endpoint_config_name == plan.endpoint_config_name


def test_a_container_change_gives_a_new_model_and_config(
    config: EndpointsConfig, plans: dict[str, DeploymentPlan]
) -> None:
    new = checked_plans(changed(config, "spark-1", max_batch_size=16), "us-east-1")["spark-1"]
    assert new.model_name != plans["spark-1"].model_name
    assert new.endpoint_config_name != plans["spark-1"].endpoint_config_name


def test_an_instance_change_gives_a_new_config_for_the_same_model(
    config: EndpointsConfig, plans: dict[str, DeploymentPlan]
) -> None:
    new = checked_plans(changed(config, "spark-1", instance_type="ml.g6e.xlarge"), "us-east-1")
    assert new["spark-1"].model_name == plans["spark-1"].model_name
    assert new["spark-1"].endpoint_config_name != plans["spark-1"].endpoint_config_name


def test_an_autoscaling_change_keeps_model_and_config(
    config: EndpointsConfig, plans: dict[str, DeploymentPlan]
) -> None:
    scaling = dataclasses.replace(config.models["spark-1"].autoscaling, max_capacity=8)
    new = checked_plans(changed(config, "spark-1", autoscaling=scaling), "us-east-1")["spark-1"]
    assert new.endpoint_config_name == plans["spark-1"].endpoint_config_name
    assert new.scalable_target()["MaxCapacity"] == 8


# -- broken configs -----------------------------------------------------------------------------


def test_context_below_the_catalog_fails(config: EndpointsConfig) -> None:
    problems = problems_of(changed(config, "spark-1", max_model_len=4096))
    assert any(
        p.startswith("spark-1:")
        and "OPTION_MAX_MODEL_LEN=4096" in p
        and "context_length 16384" in p
        for p in problems
    ), problems
    assert any("spark-1:" in p and "max_tokens 4096" in p for p in problems), problems


def test_context_beyond_the_models_native_length_fails(config: EndpointsConfig) -> None:
    problems = problems_of(changed(config, "spark-turbo", max_model_len=65536))
    assert problems == [
        "spark-turbo: max_model_len 65536 exceeds Qwen/Qwen2.5-1.5B-Instruct's native context 32768"
    ]


def test_a_model_too_big_for_the_instance_fails(config: EndpointsConfig) -> None:
    problems = problems_of(changed(config, "spark-pro", tensor_parallel_degree=1))
    assert len(problems) == 1, problems
    assert problems[0].startswith("spark-pro: Qwen/Qwen2.5-14B-Instruct")
    assert "~32.9 GiB per GPU" in problems[0]
    assert "ml.g5.12xlarge has 24 GiB per GPU" in problems[0]


def test_a_model_too_big_for_a_smaller_gpu_fails(config: EndpointsConfig) -> None:
    problems = problems_of(changed(config, "spark-1", instance_type="ml.g4dn.xlarge"))
    assert any("spark-1:" in p and "ml.g4dn.xlarge has 16 GiB per GPU" in p for p in problems)
    assert any("spark-1:" in p and "T4 GPUs do not support bf16" in p for p in problems)


def test_tensor_parallel_beyond_the_gpu_count_fails(config: EndpointsConfig) -> None:
    problems = problems_of(changed(config, "spark-1", tensor_parallel_degree=2))
    assert problems == [
        "spark-1: tensor_parallel_degree 2 must be between 1 and the 1 GPU(s) of ml.g5.2xlarge"
    ]


def test_a_catalog_model_missing_from_the_config_fails(config: EndpointsConfig) -> None:
    models = {k: v for k, v in config.models.items() if k != "spark-pro"}
    problems = problems_of(dataclasses.replace(config, models=models))
    assert problems == ["spark-pro: in sparkai.catalog but models.toml has no [models.spark-pro]"]


def test_a_configured_model_missing_from_the_catalog_fails(config: EndpointsConfig) -> None:
    extra = dataclasses.replace(config.models["spark-pro"], spark_id="spark-mega")
    problems = problems_of(
        dataclasses.replace(config, models={**config.models, "spark-mega": extra})
    )
    assert len(problems) == 1
    assert problems[0].startswith(
        "spark-mega: [models.spark-mega] is not a model in sparkai.catalog"
    )


@pytest.mark.parametrize("bad_name", ["Spark_1", "spark-1-", "-spark", "spark.1", ""])
def test_an_endpoint_name_the_template_rejects_fails(
    config: EndpointsConfig, bad_name: str
) -> None:
    problems = problems_of(changed(config, "spark-1", endpoint_name=bad_name))
    assert problems == [
        f"spark-1: endpoint name {bad_name!r} does not match template.yaml's pattern"
        f" {ENDPOINT_NAME_PATTERN} (lower-case letters, digits and hyphens)"
    ]


def test_an_endpoint_name_too_long_for_the_derived_names_fails(config: EndpointsConfig) -> None:
    problems = problems_of(changed(config, "spark-1", endpoint_name="s" * 48))
    assert len(problems) == 1 and "48 characters; at most 47" in problems[0]


def test_two_models_on_one_endpoint_fails(config: EndpointsConfig) -> None:
    problems = problems_of(changed(config, "spark-pro", endpoint_name="spark-1"))
    assert problems == ["spark-pro: endpoint name 'spark-1' is also spark-1's"]


def test_spark_turbo_must_be_the_smallest_model(config: EndpointsConfig) -> None:
    problems = problems_of(changed(config, "spark-turbo", parameters_billion=7.61))
    assert problems == [
        "spark-turbo: must be the smallest model, but Qwen/Qwen2.5-1.5B-Instruct (7.61B) is not"
        " smaller than spark-1's Qwen/Qwen2.5-7B-Instruct (7.61B)"
    ]


def test_initial_count_outside_autoscaling_bounds_fails(config: EndpointsConfig) -> None:
    problems = problems_of(changed(config, "spark-pro", initial_instance_count=3))
    assert problems == [
        "spark-pro: autoscaling needs min_capacity <= initial_instance_count <= max_capacity,"
        " got 1 <= 3 <= 2"
    ]


def test_unknown_instance_type_fails(config: EndpointsConfig) -> None:
    problems = problems_of(changed(config, "spark-1", instance_type="ml.m5.xlarge"))
    assert len(problems) == 1 and "unknown GPU instance type 'ml.m5.xlarge'" in problems[0]


def test_a_restrictive_licence_fails(config: EndpointsConfig) -> None:
    problems = problems_of(changed(config, "spark-pro", license="qwen-research"))
    assert problems == [
        "spark-pro: licence 'qwen-research' of Qwen/Qwen2.5-14B-Instruct is not one of"
        " apache-2.0, bsd-3-clause, mit"
    ]


def test_env_may_not_override_a_derived_variable(config: EndpointsConfig) -> None:
    problems = problems_of(changed(config, "spark-1", env={"OPTION_MAX_MODEL_LEN": "8192"}))
    assert problems == [
        "spark-1: [models.spark-1.env] sets OPTION_MAX_MODEL_LEN; set `max_model_len` instead"
    ]


def test_every_problem_is_listed_at_once(config: EndpointsConfig) -> None:
    broken = changed(config, "spark-1", tensor_parallel_degree=2, endpoint_name="Bad_Name")
    broken = changed(broken, "spark-pro", max_model_len=1024)
    with pytest.raises(PlanError) as caught:
        checked_plans(broken, "us-east-1")
    message = str(caught.value)
    assert "problem(s):" in message
    for expected in ("tensor_parallel_degree 2", "'Bad_Name'", "OPTION_MAX_MODEL_LEN=1024"):
        assert expected in message


def test_a_region_without_the_image_fails(config: EndpointsConfig) -> None:
    with pytest.raises(PlanError) as caught:
        checked_plans(config, "xx-nowhere-1")
    assert len(caught.value.problems) == len(MODELS)
    assert "no djl-lmi image" in caught.value.problems[0]
    assert "xx-nowhere-1" in caught.value.problems[0]


# -- the TOML itself ----------------------------------------------------------------------------


def test_toml_problems_are_all_named() -> None:
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    text = text.replace('instance_type = "ml.g5.2xlarge"', 'instance_typo = "ml.g5.2xlarge"')
    text = text.replace("tensor_parallel_degree = 4", 'tensor_parallel_degree = "4"', 1)
    with pytest.raises(PlanError) as caught:
        parse_config(text)
    assert caught.value.problems == [
        "[models.spark-1] is missing `instance_type`",
        "[models.spark-1] has unknown key `instance_typo`",
        "[models.spark-pro] `tensor_parallel_degree` must be int, not '4'",
    ]


def test_a_model_section_removed_from_the_toml_fails_validation() -> None:
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    text = text[: text.index("# spark-pro,")]  # spark-pro's tables are last in the file
    problems = problems_of(parse_config(text))
    assert problems == ["spark-pro: in sparkai.catalog but models.toml has no [models.spark-pro]"]


def test_container_env_values_must_be_strings() -> None:
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
        'OPTION_ASYNC_MODE = "true"', "OPTION_ASYNC_MODE = true"
    )
    with pytest.raises(PlanError, match=r"`OPTION_ASYNC_MODE` must be a string"):
        parse_config(text)


# -- agreement with template.yaml ---------------------------------------------------------------


def test_endpoint_names_follow_the_templates_parameters(plans: dict[str, DeploymentPlan]) -> None:
    parameters = template_parameters()
    for spark_id, plan in plans.items():
        parameter = parameters[template_parameter(spark_id)]
        assert parameter["AllowedPattern"] == ENDPOINT_NAME_PATTERN
        assert parameter["Default"] == plan.endpoint_name
    assert sam_deploy_command(plans.values()) == (
        "sam deploy --parameter-overrides Spark1EndpointName=spark-1"
        " SparkTurboEndpointName=spark-turbo SparkProEndpointName=spark-pro"
    )


# -- the plan command ---------------------------------------------------------------------------


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any boto3 client would be an AWS call: `plan` must not make one."""
    import boto3

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("plan created an AWS client")

    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(boto3.session.Session, "client", refuse)


def test_plan_json_is_parseable_and_complete(
    no_aws: None, capsys: pytest.CaptureFixture[str], plans: dict[str, DeploymentPlan]
) -> None:
    assert cli.main(["plan", "--json", "--region", "us-east-1"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["region"] == "us-east-1"
    assert document["sam_deploy"] == sam_deploy_command(plans.values())
    assert list(document["plans"]) == list(MODELS)
    for spark_id, entry in document["plans"].items():
        plan = plans[spark_id]
        assert entry == json.loads(json.dumps(plan.to_dict()))
        assert entry["image_uri"] == plan.image_uri
        assert entry["environment"] == plan.environment
        assert entry["production_variant"]["InstanceType"] == plan.variant.instance_type
        assert entry["autoscaling"]["scaling_policy"]["PolicyType"] == "TargetTrackingScaling"
        assert entry["catalog"]["context_length"] == MODELS[spark_id].context_length
        assert entry["generation_defaults"]["temperature"] == plan.generation.temperature
        assert entry["instance"]["gpu_count"] >= entry["instance"]["tensor_parallel_degree"]


def test_plan_for_one_model(no_aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "--model", "spark-pro", "--json", "--region", "eu-west-1"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document["plans"]) == ["spark-pro"]
    assert ".eu-west-1." in document["plans"]["spark-pro"]["image_uri"]


def test_plan_text_shows_the_plan_and_the_sam_line(
    no_aws: None, capsys: pytest.CaptureFixture[str], plans: dict[str, DeploymentPlan]
) -> None:
    assert cli.main(["plan", "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    for plan in plans.values():
        assert plan.endpoint_config_name in out
        assert f"HF_MODEL_ID={plan.source.hf_model_id}" in out
    assert plans["spark-1"].image_uri in out
    assert sam_deploy_command(plans.values()) in out
    assert "nothing was created" in out


def test_plan_with_a_broken_config_exits_2_listing_problems(
    no_aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "models.toml"
    broken.write_text(
        DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
            "tensor_parallel_degree = 4", "tensor_parallel_degree = 8"
        ),
        encoding="utf-8",
    )
    assert cli.main(["--config", str(broken), "plan", "--json", "--region", "us-east-1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "spark-pro: tensor_parallel_degree 8 must be between 1 and the 4 GPU(s)" in captured.err


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "model_endpoints", "plan", "--json", "--model", "spark-1",
         "--region", "us-west-2"],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["plans"]["spark-1"]["region"] == "us-west-2"
