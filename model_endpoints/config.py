"""models.toml as typed dataclasses: which open model serves each spark model, and on what."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = Path(__file__).with_name("models.toml")


class PlanError(ValueError):
    """The config, or the plan built from it, is wrong; `problems` lists every reason."""

    def __init__(self, problems: list[str], source: str = "models.toml") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class ContainerConfig:
    framework: str  # as sagemaker.core.image_uris knows it, e.g. "djl-lmi"
    version: str
    env: dict[str, str]  # shared by every model's container


@dataclass(frozen=True)
class AutoscalingConfig:
    min_capacity: int
    max_capacity: int
    target_invocations_per_instance: float  # SageMakerVariantInvocationsPerInstance, per minute
    scale_out_cooldown_s: int
    scale_in_cooldown_s: int


@dataclass(frozen=True)
class GenerationDefaults:
    temperature: float
    top_p: float
    top_k: int
    repetition_penalty: float


@dataclass(frozen=True)
class ModelConfig:
    spark_id: str
    hf_model_id: str
    license: str
    parameters_billion: float
    native_context_length: int
    max_model_len: int
    instance_type: str
    tensor_parallel_degree: int
    max_batch_size: int
    gpu_memory_utilization: float
    initial_instance_count: int
    startup_health_check_timeout_s: int
    model_download_timeout_s: int
    autoscaling: AutoscalingConfig
    generation: GenerationDefaults
    endpoint_name: str  # defaults to the spark id, which is also the template's default
    env: dict[str, str] = field(default_factory=dict)  # extra container variables for this model


@dataclass(frozen=True)
class EndpointsConfig:
    region: str
    variant_name: str
    container: ContainerConfig
    models: dict[str, ModelConfig]


_MISSING = object()


class _Table:
    """Reads one TOML table, noting every missing or mistyped key instead of stopping at the first."""

    def __init__(self, data: Any, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = problems
        if not isinstance(data, dict):
            problems.append(f"[{where}] must be a table")
            data = {}
        self.data: dict[str, Any] = data
        self._read: set[str] = set()

    def value(self, key: str, kind: type, default: Any = _MISSING) -> Any:
        self._read.add(key)
        value = self.data.get(key, default)
        if value is _MISSING:
            self.problems.append(f"[{self.where}] is missing `{key}`")
            return kind()
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        # bool is an int subclass; `tensor_parallel_degree = true` is a typo, not a 1.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problems.append(f"[{self.where}] `{key}` must be {kind.__name__}, not {value!r}")
            return kind()
        return value

    def table(self, key: str) -> _Table:
        self._read.add(key)
        return _Table(self.data.get(key, {}), f"{self.where}.{key}", self.problems)

    def strings(self, key: str) -> dict[str, str]:
        """A table of container environment variables: every value a string, as SageMaker wants."""
        self._read.add(key)
        data = self.data.get(key, {})
        if not isinstance(data, dict):
            self.problems.append(f"[{self.where}.{key}] must be a table")
            return {}
        for name, value in data.items():
            if not isinstance(value, str):
                self.problems.append(
                    f"[{self.where}.{key}] `{name}` must be a string (quote it), not {value!r}"
                )
        return {name: str(value) for name, value in data.items()}

    def check_unknown(self) -> None:
        # A misspelt key would otherwise be ignored silently and its default used.
        for key in sorted(set(self.data) - self._read):
            self.problems.append(f"[{self.where}] has unknown key `{key}`")


def _model(spark_id: str, data: Any, problems: list[str]) -> ModelConfig:
    table = _Table(data, f"models.{spark_id}", problems)
    scaling = table.table("autoscaling")
    generation = table.table("generation")
    model = ModelConfig(
        spark_id=spark_id,
        hf_model_id=table.value("hf_model_id", str),
        license=table.value("license", str),
        parameters_billion=table.value("parameters_billion", float),
        native_context_length=table.value("native_context_length", int),
        max_model_len=table.value("max_model_len", int),
        instance_type=table.value("instance_type", str),
        tensor_parallel_degree=table.value("tensor_parallel_degree", int),
        max_batch_size=table.value("max_batch_size", int),
        gpu_memory_utilization=table.value("gpu_memory_utilization", float),
        initial_instance_count=table.value("initial_instance_count", int),
        startup_health_check_timeout_s=table.value("startup_health_check_timeout_s", int),
        model_download_timeout_s=table.value("model_download_timeout_s", int),
        autoscaling=AutoscalingConfig(
            min_capacity=scaling.value("min_capacity", int),
            max_capacity=scaling.value("max_capacity", int),
            target_invocations_per_instance=scaling.value("target_invocations_per_instance", float),
            scale_out_cooldown_s=scaling.value("scale_out_cooldown_s", int),
            scale_in_cooldown_s=scaling.value("scale_in_cooldown_s", int),
        ),
        generation=GenerationDefaults(
            temperature=generation.value("temperature", float),
            top_p=generation.value("top_p", float),
            top_k=generation.value("top_k", int),
            repetition_penalty=generation.value("repetition_penalty", float),
        ),
        endpoint_name=table.value("endpoint_name", str, spark_id),
        env=table.strings("env"),
    )
    for part in (table, scaling, generation):
        part.check_unknown()
    return model


def parse_config(text: str, source: str = "models.toml") -> EndpointsConfig:
    """Parses models.toml text; raises PlanError naming every missing, mistyped or unknown key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError([f"not valid TOML: {exc}"], source) from exc
    problems: list[str] = []
    root = _Table(data, "root", problems)
    defaults = root.table("defaults")
    container = root.table("container")
    models_data = root.data.get("models", {})
    root._read.add("models")
    if not isinstance(models_data, dict) or not models_data:
        problems.append("[models] must have one [models.<spark id>] table per spark model")
        models_data = {}
    config = EndpointsConfig(
        region=defaults.value("region", str),
        variant_name=defaults.value("variant_name", str),
        container=ContainerConfig(
            framework=container.value("framework", str),
            version=container.value("version", str),
            env=container.strings("env"),
        ),
        models={
            spark_id: _model(spark_id, entry, problems) for spark_id, entry in models_data.items()
        },
    )
    for part in (root, defaults, container):
        part.check_unknown()
    if problems:
        raise PlanError(problems, source)
    return config


def load_config(path: Path | str | None = None) -> EndpointsConfig:
    """Loads models.toml (this package's own unless another path is given)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError([f"cannot read {path}: {exc.strerror}"], str(path)) from exc
    return parse_config(text, source=str(path))
