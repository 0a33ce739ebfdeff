"""The default `make run`: the real SmolLM2-135M-Instruct behind every spark model, end to end
(API -> boto3 -> local SageMaker runtime -> llama.cpp), buffered and streamed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.local.conftest import RunningStack, start_stack, stop_stack

pytestmark = [pytest.mark.local, pytest.mark.slow]
QUESTION = [
    {"role": "user", "content": "What is the capital of France? Answer in one short sentence."}
]


@pytest.fixture(scope="module")
def real_stack() -> Iterator[RunningStack]:
    running = start_stack()  # no --model: the real model, as `make run` does
    yield running
    assert stop_stack(running) == 0


def test_a_short_buffered_answer(real_stack: RunningStack) -> None:
    response = httpx.post(
        f"{real_stack.url}/v1/chat",
        json={"model": "spark-1", "messages": QUESTION, "max_tokens": 24, "temperature": 0},
        headers={"Authorization": f"Bearer {real_stack.key}"},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    answer = body["choices"][0]["message"]["content"]
    assert answer.strip()
    assert "paris" in answer.lower()  # greedy decoding: SmolLM2 knows this one
    usage = body["usage"]
    assert 0 < usage["completion_tokens"] <= 24
    assert (
        usage["prompt_tokens"] > 10
    )  # counted by the model's own tokenizer, chat template included
    assert body["choices"][0]["finish_reason"] in {"stop", "length"}


def test_a_short_streamed_answer(real_stack: RunningStack) -> None:
    with httpx.stream(
        "POST",
        f"{real_stack.url}/v1/chat",
        json={
            "model": "spark-pro",
            "messages": QUESTION,
            "max_tokens": 24,
            "temperature": 0,
            "stream": True,
        },
        headers={"Authorization": f"Bearer {real_stack.key}"},
        timeout=120,
    ) as response:
        assert response.status_code == 200
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    pieces = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    assert sum(1 for p in pieces if p) >= 2  # token by token, not one blob
    assert "paris" in "".join(pieces).lower()
    assert chunks[-1]["usage"]["completion_tokens"] <= 24
    assert chunks[0]["model"] == "spark-pro"
