"""The GPU instance types a model may be planned on: GPUs, memory, and the hourly price where cited."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class GpuInstance:
    instance_type: str
    gpu: str
    gpu_count: int
    gib_per_gpu: int
    bf16: bool  # Turing and Volta GPUs (T4, V100) have no bfloat16 support
    host_gib: int = 0  # host RAM: the container reads bf16 safetensors through it at start-up

    def describe(self) -> str:
        return f"{self.gpu_count}x {self.gpu} {self.gib_per_gpu} GiB"


def _family(
    prefix: str, gpu: str, gib: int, bf16: bool, sizes: dict[str, int]
) -> dict[str, GpuInstance]:
    return {
        f"{prefix}.{size}": GpuInstance(
            f"{prefix}.{size}", gpu, count, gib, bf16, _HOST_GIB.get(f"{prefix}.{size}", 0)
        )
        for size, count in sizes.items()
    }


# The GPU instances SageMaker real-time endpoints offer for LLMs (sizes that share a GPU count
# differ only in vCPUs and host RAM).
_G_SIZES = {
    "xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1,
    "12xlarge": 4, "24xlarge": 4, "48xlarge": 8,
}  # fmt: skip
# EC2's published host memory of the g5 sizes the plan prices (g5.xlarge 16, 2xlarge 32,
# 12xlarge 192 GiB): a 15 GB bf16 checkpoint does not load through 16 GiB.
_HOST_GIB = {"ml.g5.xlarge": 16, "ml.g5.2xlarge": 32, "ml.g5.12xlarge": 192}

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

# SageMaker real-time inference, on demand, us-east-1 (read 2026-11-26 with the project's search
# tool). Only these sizes have a price we could cite, so only they are candidates for the
# serving plan: g6 (L4) and g6e (L40S) would be worth pricing next (no stored source found).
PRICES_PER_HOUR: dict[str, tuple[Decimal, str]] = {
    "ml.g5.xlarge": (
        Decimal("1.41"),
        "zircon.tech 'The Real Cost of Running AI Models on AWS SageMaker' (us-east-1, Oct 2025); "
        "wring.co 'SageMaker Inference: Real-Time vs Serverless' lists $1.21: the higher is used",
    ),
    "ml.g5.2xlarge": (
        Decimal("1.52"),
        "wring.co 'SageMaker Inference: Real-Time vs Serverless' (Mar 2026)",
    ),
    "ml.g5.12xlarge": (
        Decimal("7.09"),
        "AWS SageMaker pricing page as read for the first cost model (no stored copy found this "
        "time: verify before relying on it)",
    ),
}


def get_instance(instance_type: str) -> GpuInstance | None:
    return INSTANCES.get(instance_type)


def price_per_hour(instance_type: str) -> Decimal | None:
    entry = PRICES_PER_HOUR.get(instance_type)
    return entry[0] if entry else None
