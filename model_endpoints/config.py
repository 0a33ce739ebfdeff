"""models.toml as typed, validated records: which open model serves each spark model, and on what.

Validation is pydantic's (strict types, unknown keys refused, every problem collected); this module
only turns pydantic's error locations into the `[table] ...` sentences operators read.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import (
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.dataclasses import dataclass

DEFAULT_CONFIG = Path(__file__).with_name("models.toml")
# Strict scalars: `tensor_parallel_degree = "4"` or `= true` is a typo, not a 4 or a 1 (an int is a
# fine float). Unknown keys are refused: a misspelt key would otherwise leave its default in force.
# Frozen, so plans built from a config cannot change it; still `dataclasses.replace`-able.
_STRICT = ConfigDict(extra="forbid", frozen=True)


class PlanError(ValueError):
    """The config, or the plan built from it, is wrong; `problems` lists every reason."""

    def __init__(self, problems: list[str], source: str = "models.toml") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


@dataclass(config=_STRICT)
class ContainerConfig:
    framework: StrictStr  # as sagemaker.core.image_uris knows it, e.g. "djl-lmi"
    version: StrictStr
    env: dict[str, StrictStr]  # shared by every model's container


@dataclass(config=_STRICT)
class AutoscalingConfig:
    min_capacity: StrictInt
    max_capacity: StrictInt
    target_invocations_per_instance: (
        StrictFloat  # SageMakerVariantInvocationsPerInstance, per minute
    )
    scale_out_cooldown_s: StrictInt
    scale_in_cooldown_s: StrictInt


@dataclass(config=_STRICT)
class GenerationDefaults:
    temperature: StrictFloat
    top_p: StrictFloat
    top_k: StrictInt
    repetition_penalty: StrictFloat


@dataclass(config=_STRICT)
class ThroughputFigure:
    """One published vLLM measurement, as published, and how it carries over to our GPU."""

    quantization: StrictStr  # "none", "awq" or "fp8", as served when measured
    tensor_parallel_degree: StrictInt
    batch: StrictInt  # concurrent sequences when measured
    gpu: StrictStr  # the GPU the figure is used for (after `scale`)
    instance_tokens_per_second: StrictFloat  # generated tokens/s, all sequences, as published
    stream_tokens_per_second: StrictFloat  # one sequence's decode speed, as published
    first_token_seconds: StrictFloat  # as published
    scale: StrictFloat  # published GPU -> `gpu`; 1.0 when measured on it
    source: StrictStr  # the URL or repository path read
    basis: StrictStr  # same model or comparable, and on which GPU


@dataclass(config=_STRICT)
class ModelConfig:
    spark_id: StrictStr
    hf_model_id: StrictStr
    license: StrictStr
    parameters_billion: StrictFloat
    native_context_length: StrictInt
    max_model_len: StrictInt
    instance_type: StrictStr
    tensor_parallel_degree: StrictInt
    max_batch_size: StrictInt
    gpu_memory_utilization: StrictFloat
    quantization: StrictStr  # "none", "awq" (a pre-quantized checkpoint) or "fp8" (at load time)
    min_stream_tokens_per_second: StrictFloat  # the speed the model's description promises
    throughput: list[ThroughputFigure]  # the cited figures the serving plan is chosen from
    initial_instance_count: StrictInt
    startup_health_check_timeout_s: StrictInt
    model_download_timeout_s: StrictInt
    autoscaling: AutoscalingConfig
    generation: GenerationDefaults
    endpoint_name: StrictStr  # defaults to the spark id, which is also the template's default
    env: dict[str, StrictStr] = Field(
        default_factory=dict
    )  # extra container variables for this model

    @model_validator(mode="before")
    @classmethod
    def _endpoint_name_defaults_to_spark_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and "endpoint_name" not in data and "spark_id" in data:
            return {**data, "endpoint_name": data["spark_id"]}
        return data


@dataclass(config=_STRICT)
class Defaults:
    region: StrictStr  # used when neither --region nor the AWS configuration names one
    variant_name: StrictStr


@dataclass(config=_STRICT)
class EndpointsConfig:
    defaults: Defaults
    container: ContainerConfig
    models: dict[str, ModelConfig] = Field(min_length=1)

    @property
    def region(self) -> str:
        return self.defaults.region

    @property
    def variant_name(self) -> str:
        return self.defaults.variant_name


_TYPE_NAMES = {
    "int_type": "int",
    "float_type": "float",
    "string_type": "str",
    "dict_type": "a table",
    "bool_type": "bool",
}


def _where(loc: tuple[int | str, ...]) -> str:
    return "[" + (".".join(str(part) for part in loc) or "root") + "]"


def _problem(error: Any) -> str:
    """One pydantic error as the sentence an operator reads, naming the TOML table and key."""
    loc = tuple(error["loc"])
    kind = error["type"]
    if loc[:1] == ("models",) and kind in {"too_short", "missing"} and len(loc) == 1:
        return "[models] must have one [models.<spark id>] table per spark model"
    table, key = loc[:-1], loc[-1] if loc else ""
    if kind == "missing":
        return f"{_where(table)} is missing `{key}`"
    if kind in {"extra_forbidden", "unexpected_keyword_argument"}:
        return f"{_where(table)} has unknown key `{key}`"
    if kind in {"dict_type", "dataclass_type", "dataclass_exact_type", "model_type"}:
        return f"{_where(loc)} must be a table"
    if kind == "string_type" and table[-1:] == ("env",):
        return f"{_where(table)} `{key}` must be a string (quote it), not {error['input']!r}"
    expected = _TYPE_NAMES.get(kind, error["msg"])
    return f"{_where(table)} `{key}` must be {expected}, not {error['input']!r}"


@cache
def _adapter() -> TypeAdapter[EndpointsConfig]:
    return TypeAdapter(EndpointsConfig)


def parse_config(text: str, source: str = "models.toml") -> EndpointsConfig:
    """Parses models.toml text; raises PlanError naming every missing, mistyped or unknown key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError([f"not valid TOML: {exc}"], source) from exc
    models = data.get("models")
    if isinstance(models, dict):  # a model's spark id is its table name
        data["models"] = {
            spark_id: {**entry, "spark_id": spark_id} if isinstance(entry, dict) else entry
            for spark_id, entry in models.items()
        }
    try:
        return _adapter().validate_python(data)
    except ValidationError as exc:
        raise PlanError([_problem(error) for error in exc.errors()], source) from None


def load_config(path: Path | str | None = None) -> EndpointsConfig:
    """Loads models.toml (this package's own unless another path is given)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError([f"cannot read {path}: {exc.strerror}"], str(path)) from exc
    return parse_config(text, source=str(path))
