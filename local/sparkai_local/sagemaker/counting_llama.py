"""llama-cpp's Llama, counting the tokens it samples: what the local model reports as usage.

Why: vLLM reports, on every chunk, the tokens generated so far (continuous_usage_stats), and that
count is what a stream that ends early is billed. llama-cpp's chat stream does not say it, and its
chunks are not tokens: it holds a token back while its text is an incomplete UTF-8 character or
could begin a stop sequence. Every token it samples passes through `generate`, whatever the chat
format or grammar, so counting there is exact (the end-of-generation token included, as vLLM
counts it). Imported only where the real model runs (llama_cpp is native code).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from llama_cpp import Llama


class CountingLlama(Llama):
    """`sampled`: tokens sampled since the caller last set it to 0 (one request at a time)."""

    sampled = 0

    def generate(  # the same generator and arguments, counted
        self, *args: Any, **kwargs: Any
    ) -> Generator[int, Sequence[int] | None, None]:
        for token in super().generate(*args, **kwargs):
            self.sampled += 1
            yield token
