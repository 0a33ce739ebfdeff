"""What a spark model costs to serve: the cheapest cited serving option that keeps the speed its
description promises, in dollars per million tokens, next to the price the model is sold at.

Offline arithmetic on models.toml's cited figures and instances.py's cited prices; the cost model
(benchmarks/cost_model.py) adds the gateway around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from model_endpoints.config import ModelConfig, ThroughputFigure
from model_endpoints.instances import INSTANCES, GpuInstance, price_per_hour
from sparkai.catalog import SparkModel

UTILISATION = Decimal("0.5")  # share of instance capacity sold, averaged over the day
# A prompt token costs a tenth of a generated one: prefill runs the whole prompt in one batched,
# compute-bound pass, while each generated token is a memory-bound step of its own.
PREFILL_WEIGHT = Decimal("0.1")
# "A million tokens served" is half prompt, half completion (the starter and pro typical requests).
PROMPT_SHARE = Decimal("0.5")
# Bytes per parameter as served: AWQ is 4 bits plus a 16-bit scale and zero per 128 weights.
BYTES_PER_PARAMETER = {"none": 2.0, "fp8": 1.0, "awq": 4.25 / 8}
QUANTIZATIONS = frozenset(BYTES_PER_PARAMETER)
WEIGHT_OVERHEAD = 1.2  # activations, CUDA graphs and fragmentation on top of the weights
HOST_LOAD_FACTOR = 0.75  # bf16 safetensors load through host RAM, shared with OS and server
MILLION = Decimal(1_000_000)


def weights_gib(model: ModelConfig, quantization: str) -> float:
    return model.parameters_billion * 1e9 * BYTES_PER_PARAMETER[quantization] / 2**30


@dataclass(frozen=True)
class ServingOption:
    """One cited figure on one priced instance type."""

    instance: GpuInstance
    price_per_hour: Decimal
    figure: ThroughputFigure

    @property
    def stream_tokens_per_second(self) -> float:
        return self.figure.stream_tokens_per_second * self.figure.scale

    @property
    def instance_tokens_per_second(self) -> float:
        return self.figure.instance_tokens_per_second * self.figure.scale

    @property
    def first_token_seconds(self) -> float:
        return self.figure.first_token_seconds / self.figure.scale

    def cost_per_million_tokens(self, utilisation: Decimal = UTILISATION) -> Decimal:
        """SageMaker dollars per million tokens billed (PROMPT_SHARE of them prompt)."""
        work = MILLION * (PROMPT_SHARE * PREFILL_WEIGHT + (1 - PROMPT_SHARE))
        seconds = work / Decimal(repr(self.instance_tokens_per_second)) / utilisation
        return seconds * self.price_per_hour / 3600

    def describe(self) -> str:
        f = self.figure
        return (
            f"{self.instance.instance_type} ({self.instance.describe()}), quantization"
            f" {f.quantization}, tensor parallel {f.tensor_parallel_degree}, batch {f.batch}:"
            f" {self.instance_tokens_per_second:,.0f} tokens/s per instance,"
            f" {self.stream_tokens_per_second:.1f} per stream"
        )


def revenue_per_million_tokens(catalog: SparkModel) -> Decimal:
    return catalog.price_per_1k_tokens * 1000


def break_even_utilisation(option: ServingOption, catalog: SparkModel) -> Decimal:
    """The utilisation at which SageMaker alone costs what the tokens sell for."""
    return option.cost_per_million_tokens(Decimal(1)) / revenue_per_million_tokens(catalog)


def fits(model: ModelConfig, instance: GpuInstance, figure: ThroughputFigure) -> bool:
    tp = figure.tensor_parallel_degree
    if instance.gpu != figure.gpu or tp != instance.gpu_count:  # no idle GPUs on the bill
        return False
    if figure.quantization not in QUANTIZATIONS:
        return False
    total = weights_gib(model, figure.quantization)
    if total * WEIGHT_OVERHEAD / tp > instance.gib_per_gpu:
        return False
    return figure.quantization != "none" or total <= instance.host_gib * HOST_LOAD_FACTOR


def options(model: ModelConfig) -> list[ServingOption]:
    """Every cited figure on every priced instance type it fits, cheapest first."""
    found = []
    for figure in model.throughput:
        for instance in INSTANCES.values():
            price = price_per_hour(instance.instance_type)
            if price is not None and fits(model, instance, figure):
                found.append(ServingOption(instance, price, figure))
    return sorted(found, key=lambda o: o.cost_per_million_tokens())


def cheapest(model: ModelConfig) -> ServingOption | None:
    """The cheapest option that keeps the model's promised stream speed."""
    keeping = [
        o
        for o in options(model)
        if o.stream_tokens_per_second >= model.min_stream_tokens_per_second
    ]
    return keeping[0] if keeping else None


def configured(model: ModelConfig) -> ServingOption | None:
    """The option models.toml configures: its instance, quantization, parallelism and batch."""
    for option in options(model):
        f = option.figure
        if (
            option.instance.instance_type == model.instance_type
            and f.quantization == model.quantization
            and f.tensor_parallel_degree == model.tensor_parallel_degree
            and f.batch == model.max_batch_size
        ):
            return option
    return None


def check(model: ModelConfig) -> list[str]:
    """The configured serving must be a cited figure, keep the promise and be the cheapest."""
    name = model.spark_id
    if model.quantization not in QUANTIZATIONS:
        return [
            f"{name}: quantization {model.quantization!r} is not one of"
            f" {', '.join(sorted(QUANTIZATIONS))}"
        ]
    chosen = configured(model)
    if chosen is None:
        return [
            f"{name}: no cited throughput figure for {model.instance_type}, quantization"
            f" {model.quantization}, tensor parallel {model.tensor_parallel_degree}, batch"
            f" {model.max_batch_size} (add a [[models.{name}.throughput]] with its source)"
        ]
    problems = []
    if chosen.stream_tokens_per_second < model.min_stream_tokens_per_second:
        problems.append(
            f"{name}: {chosen.stream_tokens_per_second:.1f} tokens/s per stream is below the"
            f" promised {model.min_stream_tokens_per_second:g}"
        )
    best = cheapest(model)
    if best is not None and best.cost_per_million_tokens() < chosen.cost_per_million_tokens():
        problems.append(
            f"{name}: {best.describe()} serves at ${best.cost_per_million_tokens():.3f} per"
            f" million tokens, less than the configured ${chosen.cost_per_million_tokens():.3f}"
        )
    return problems
