"""The spark models as the public docs describe them: one place for ids, limits and prices."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

DEFAULT_MAX_TOKENS = 1024
OWNER = "sparkai"


@dataclass(frozen=True)
class SparkModel:
    id: str
    description: str
    max_tokens: int  # the largest max_tokens a request may ask for (completion tokens)
    context_length: int  # prompt + completion tokens the serving endpoint is configured for
    price_per_1k_tokens: Decimal
    created: int  # launch timestamp shown by GET /v1/models

    def default_max_tokens(self) -> int:
        return min(DEFAULT_MAX_TOKENS, self.max_tokens)


MODELS: dict[str, SparkModel] = {
    m.id: m
    for m in (
        SparkModel(
            "spark-1", "Balanced model for most tasks", 4096, 16384, Decimal("0.0003"), 1767225600
        ),
        SparkModel(
            "spark-turbo", "Optimized for speed", 4096, 16384, Decimal("0.0006"), 1767225600
        ),
        SparkModel(
            "spark-pro", "Enhanced reasoning & analysis", 8192, 32768, Decimal("0.0012"), 1767225600
        ),
    )
}
