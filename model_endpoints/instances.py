"""The GPU instance types a model may be planned on: how many GPUs each has and how much memory."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuInstance:
    instance_type: str
    gpu: str
    gpu_count: int
    gib_per_gpu: int
    bf16: bool  # Turing and Volta GPUs (T4, V100) have no bfloat16 support

    def describe(self) -> str:
        return f"{self.gpu_count}x {self.gpu} {self.gib_per_gpu} GiB"


def _family(
    prefix: str, gpu: str, gib: int, bf16: bool, sizes: dict[str, int]
) -> dict[str, GpuInstance]:
    return {
        f"{prefix}.{size}": GpuInstance(f"{prefix}.{size}", gpu, count, gib, bf16)
        for size, count in sizes.items()
    }


# The GPU instances SageMaker real-time endpoints offer for LLMs (sizes that share a GPU count
# differ only in vCPUs and host RAM).
_G_SIZES = {
    "xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1,
    "12xlarge": 4, "24xlarge": 4, "48xlarge": 8,
}  # fmt: skip

INSTANCES: dict[str, GpuInstance] = {
    **_family(
        "ml.g4dn", "T4", 16, False, {s: n for s, n in _G_SIZES.items() if n == 1} | {"12xlarge": 4}
    ),
    **_family("ml.g5", "A10G", 24, True, _G_SIZES),
    **_family("ml.g6", "L4", 24, True, _G_SIZES),
    **_family("ml.g6e", "L40S", 48, True, _G_SIZES),
    **_family("ml.p4d", "A100", 40, True, {"24xlarge": 8}),
    **_family("ml.p4de", "A100", 80, True, {"24xlarge": 8}),
    **_family("ml.p5", "H100", 80, True, {"48xlarge": 8}),
}


def get_instance(instance_type: str) -> GpuInstance | None:
    return INSTANCES.get(instance_type)
