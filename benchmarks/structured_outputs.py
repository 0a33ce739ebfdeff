"""Constrained decoding on the local model: the same request (SmolLM2-135M, greedy) with a strict
JSON Schema, with json_object, and without a format, through the local container's backend (the
code `make run` serves). Prints time to first token, tokens/s after it, and the grammar's build
time; what a strict schema costs per token is the tokens/s ratio (issue 26)."""

from __future__ import annotations

import json
import statistics
import threading
import time
from typing import Any

SCHEMA = {
    "type": "object",
    "properties": {
        "customer": {"type": "string", "maxLength": 40},
        "tier": {"enum": ["gold", "silver", "bronze"]},
        "items": {
            "type": "array",
            "maxItems": 5,
            "items": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}},
                "required": ["sku", "quantity"],
                "additionalProperties": False,
            },
        },
        "notes": {"type": "string"},
    },
    "required": ["customer", "tier", "items", "notes"],
    "additionalProperties": False,
}
# The same prompt for every variant (the gateway adds this instruction for a json_schema format).
MESSAGES = [
    {"role": "system", "content": "Answer with a JSON object matching: " + json.dumps(SCHEMA)},
    {"role": "user", "content": "Ann (gold) orders 2 apples and 3 pears; she wants them by noon."},
]
FORMATS: dict[str, dict[str, Any] | None] = {
    "no format": None,
    "json_object": {"type": "json_object"},
    "strict schema": {
        "type": "json_schema",
        "json_schema": {"name": "order", "schema": SCHEMA, "strict": True},
    },
}
MAX_TOKENS, RUNS = 96, 5


def run(backend: Any, response_format: dict[str, Any] | None) -> tuple[float, float, int]:
    body: dict[str, Any] = {
        "messages": MESSAGES,
        "max_tokens": MAX_TOKENS,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if response_format is not None:
        body["response_format"] = response_format
    start, first, tokens = time.perf_counter(), None, 0
    for chunk in backend.stream("spark-1", body, threading.Event()):
        if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
            first = first or time.perf_counter()
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
    end = time.perf_counter()
    return (first or end) - start, end - (first or end), tokens


def main() -> None:
    from llama_cpp.llama_grammar import LlamaGrammar

    from sparkai_local.sagemaker.llama import LlamaBackend
    from sparkai_local.sagemaker.structured import build_grammar

    started = time.perf_counter()
    for _ in range(20):
        LlamaGrammar.from_string(build_grammar([], forced=False, answer=SCHEMA), verbose=False)
    build_ms = (time.perf_counter() - started) / 20 * 1000
    print(f"GBNF text from the schema: {build_ms:.2f} ms (llama.cpp parses it in TTFT below)")

    backend = LlamaBackend()
    run(backend, None)  # load and warm the model
    print(f"{'variant':<14} {'TTFT ms':>9} {'tokens/s':>9} {'tokens':>7}   (median of {RUNS})")
    rates = {}
    for name, response_format in FORMATS.items():
        results = [run(backend, response_format) for _ in range(RUNS)]
        ttft = statistics.median(r[0] for r in results) * 1000
        rate = statistics.median(r[2] / r[1] for r in results if r[1] > 0)
        tokens = statistics.median(r[2] for r in results)
        rates[name] = rate
        print(f"{name:<14} {ttft:>9.1f} {rate:>9.1f} {tokens:>7.0f}")
    print(
        f"strict schema tokens/s = {rates['strict schema'] / rates['no format']:.0%} of no format"
    )


if __name__ == "__main__":
    main()
