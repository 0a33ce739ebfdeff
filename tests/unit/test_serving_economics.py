"""The serving plan's economics: cited figures, the cheapest option at the promised speed, and what
`sparkai-endpoints plan` prints about it (offline, no AWS)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from model_endpoints import cli, economics
from model_endpoints.config import DEFAULT_CONFIG, EndpointsConfig, PlanError, load_config
from model_endpoints.plan import checked_plans, serving_problems
from sparkai.catalog import MODELS


@pytest.fixture(scope="module")
def config() -> EndpointsConfig:
    return load_config()


def changed(config: EndpointsConfig, spark_id: str, **changes: Any) -> EndpointsConfig:
    models = dict(config.models)
    models[spark_id] = dataclasses.replace(models[spark_id], **changes)
    return dataclasses.replace(config, models=models)


def serving_of(config: EndpointsConfig) -> list[str]:
    return serving_problems(checked_plans(config, "us-east-1"))


def test_every_shipped_model_is_served_by_its_cheapest_cited_option(
    config: EndpointsConfig,
) -> None:
    assert serving_of(config) == []
    for model in config.models.values():
        chosen = economics.configured(model)
        assert chosen is not None, model.spark_id
        assert chosen == economics.cheapest(model)
        assert chosen.stream_tokens_per_second >= model.min_stream_tokens_per_second
        assert chosen.figure.source.strip() and chosen.figure.basis.strip()


def test_every_figure_names_its_source_and_quantization(config: EndpointsConfig) -> None:
    for model in config.models.values():
        assert model.throughput, model.spark_id
        for figure in model.throughput:
            assert figure.quantization in economics.QUANTIZATIONS
            assert figure.source.startswith(("https://", "github.com/"))
            assert 0 < figure.scale <= 1  # every figure comes from a GPU at least as fast


def test_cost_per_million_tokens_is_price_over_throughput_at_the_utilisation(
    config: EndpointsConfig,
) -> None:
    turbo = economics.configured(config.models["spark-turbo"])
    assert turbo is not None
    # Given 2127.6 tokens/s on an A6000 scaled by 0.781 to one A10G at $1.41 an hour,
    # when a million tokens (half prompt at a tenth of the work) are served at 50% utilisation:
    seconds = Decimal(550_000) / Decimal(repr(2127.6 * 0.781)) / Decimal("0.5")
    assert turbo.cost_per_million_tokens() == seconds * Decimal("1.41") / 3600
    assert turbo.cost_per_million_tokens(Decimal(1)) == turbo.cost_per_million_tokens() / 2
    assert economics.break_even_utilisation(turbo, MODELS["spark-turbo"]) == (
        turbo.cost_per_million_tokens(Decimal(1)) / Decimal("0.6")
    )


def test_a_configuration_without_a_cited_figure_is_reported(config: EndpointsConfig) -> None:
    assert serving_of(changed(config, "spark-1", max_batch_size=16)) == [
        "spark-1: no cited throughput figure for ml.g5.2xlarge, quantization none, tensor"
        " parallel 1, batch 16 (add a [[models.spark-1.throughput]] with its source)"
    ]


def test_a_batch_too_slow_for_the_promise_is_reported(config: EndpointsConfig) -> None:
    problems = serving_of(changed(config, "spark-1", min_stream_tokens_per_second=30.0))
    assert problems == ["spark-1: 28.4 tokens/s per stream is below the promised 30"]


def test_a_dearer_instance_than_the_cheapest_cited_option_is_reported(
    config: EndpointsConfig,
) -> None:
    problems = serving_of(changed(config, "spark-turbo", instance_type="ml.g5.2xlarge"))
    assert len(problems) == 1, problems
    assert problems[0].startswith("spark-turbo: ml.g5.xlarge (1x A10G 24 GiB), quantization none")
    assert "less than the configured" in problems[0]


def test_bf16_7b_weights_do_not_load_through_the_xlarges_host_ram(
    config: EndpointsConfig,
) -> None:
    spark1 = config.models["spark-1"]
    xlarge = [o for o in economics.options(spark1) if o.instance.instance_type == "ml.g5.xlarge"]
    assert {o.figure.quantization for o in xlarge} == {"awq"}


def test_fp8_is_quantized_at_load_time_and_awq_needs_a_quantized_checkpoint(
    config: EndpointsConfig,
) -> None:
    fp8 = checked_plans(changed(config, "spark-1", quantization="fp8"), "us-east-1")["spark-1"]
    assert fp8.environment["OPTION_QUANTIZE"] == "fp8"
    assert fp8.weights_gib_per_gpu() == pytest.approx(7.61e9 / 2**30)
    shipped = checked_plans(config, "us-east-1")["spark-1"]
    assert "OPTION_QUANTIZE" not in shipped.environment
    with pytest.raises(PlanError) as caught:
        checked_plans(changed(config, "spark-1", quantization="awq"), "us-east-1")
    assert caught.value.problems == [
        "spark-1: quantization awq needs a pre-quantized checkpoint"
        " (e.g. Qwen/Qwen2.5-7B-Instruct-AWQ), not Qwen/Qwen2.5-7B-Instruct"
    ]


def test_plan_prints_cost_revenue_and_break_even_per_model(
    capsys: pytest.CaptureFixture[str], config: EndpointsConfig
) -> None:
    assert cli.main(["plan", "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    assert "$/M tokens served" in out and "break-even utilisation" in out
    for spark_id, model in config.models.items():
        chosen = economics.configured(model)
        assert chosen is not None
        row = next(line for line in out.splitlines() if line.startswith(f"{spark_id} "))
        cost = f"{chosen.cost_per_million_tokens():.3f}"
        revenue = f"{economics.revenue_per_million_tokens(MODELS[spark_id]):.2f}"
        even = f"{economics.break_even_utilisation(chosen, MODELS[spark_id]):.1%}"
        assert row.split() == [spark_id, cost, revenue, even]
        assert chosen.figure.source in out


def test_plan_refuses_a_config_that_serves_dearer_than_it_could(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
        'instance_type = "ml.g5.xlarge"  # 1x A10G', 'instance_type = "ml.g5.2xlarge"  # 1x A10G', 1
    )
    broken = tmp_path / "models.toml"
    broken.write_text(text, encoding="utf-8")
    assert cli.main(["--config", str(broken), "plan", "--region", "us-east-1"]) == 2
    assert "spark-turbo: ml.g5.xlarge" in capsys.readouterr().err
