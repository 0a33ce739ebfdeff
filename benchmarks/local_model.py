"""The local model: SmolLM2-135M-Instruct on this CPU, called directly with llama-cpp-python and
through the whole local stack (HTTP -> API -> boto3 -> local SageMaker runtime -> llama.cpp).
Prints tokens/s and time to first token for both, same prompt, greedy decoding. Directly: with
every core (the fastest llama.cpp here), and with the threads the stack's model server uses
(every core but one, the other left to the gateway); the stack is compared with the fastest.
Budget (issue 14): through the stack >= 95% of direct tokens/s."""

from __future__ import annotations

import os
import statistics
import time

import httpx

MESSAGES = [{"role": "user", "content": "Write a short story about a robot who learns to paint."}]
MAX_TOKENS, RUNS = 128, 3


def direct(threads: int) -> list[tuple[float, float, int]]:
    import llama_cpp

    from sparkai_local.sagemaker.llama import REPEAT_PENALTY, default_model_path

    llama = llama_cpp.Llama(
        model_path=str(default_model_path()), n_ctx=4096, n_threads=threads, verbose=False
    )
    results = []
    for _ in range(RUNS):
        start, first, tokens = time.perf_counter(), None, 0
        for chunk in llama.create_chat_completion(
            messages=MESSAGES,
            max_tokens=MAX_TOKENS,
            temperature=0,
            repeat_penalty=REPEAT_PENALTY,
            stream=True,  # type: ignore[arg-type]
        ):
            if chunk["choices"][0]["delta"].get("content"):  # type: ignore[index]
                first = first or time.perf_counter()
                tokens += 1
        results.append(
            (first - start if first else 0.0, time.perf_counter() - (first or start), tokens)
        )
    return results


def through_stack() -> list[tuple[float, float, int]]:
    from sparkai_local.stack import StackConfig, free_port, running

    results = []
    with running(StackConfig(port=free_port())) as stack, httpx.Client(timeout=300) as http:
        assert stack.demo is not None
        headers = {"Authorization": f"Bearer {stack.demo.secret}"}
        body = {
            "model": "spark-1",
            "messages": MESSAGES,
            "max_tokens": MAX_TOKENS,
            "temperature": 0,
            "stream": True,
        }
        http.post(
            f"{stack.api_url}/v1/chat",
            json={**body, "stream": False, "max_tokens": 4},
            headers=headers,
        )  # load the model
        for _ in range(RUNS):
            start, first, tokens = time.perf_counter(), None, 0
            with http.stream(
                "POST", f"{stack.api_url}/v1/chat", json=body, headers=headers
            ) as response:
                for line in response.iter_lines():
                    if (
                        line.startswith("data: {")
                        and '"content":"' in line
                        and '"content":""' not in line
                    ):
                        first = first or time.perf_counter()
                        tokens += 1
            results.append(
                (first - start if first else 0.0, time.perf_counter() - (first or start), tokens)
            )
    return results


def _report(label: str, results: list[tuple[float, float, int]]) -> tuple[float, float]:
    ttft = statistics.median(r[0] for r in results) * 1000
    rate = statistics.median(r[2] / r[1] for r in results if r[1] > 0)
    tokens = statistics.median(r[2] for r in results)
    print(
        f"  {label:<44} first token {ttft:7.1f} ms   {rate:6.1f} tokens/s   ({tokens:.0f} tokens)"
    )
    return ttft, rate


def main() -> None:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    print(
        f"SmolLM2-135M-Instruct Q4_1, {os.cpu_count()} cores, {MAX_TOKENS} tokens max, greedy; median of {RUNS}"
    )
    from sparkai_local.sagemaker.llama import default_threads

    cores, served = os.cpu_count() or 1, default_threads()
    d_ttft, d_rate = _report(f"llama-cpp-python directly, {cores} threads", direct(cores))
    if served != cores:
        _report(f"llama-cpp-python directly, {served} threads", direct(served))
    s_ttft, s_rate = _report(
        f"through the local stack (HTTP, SSE), {served} threads", through_stack()
    )
    print(
        f"  stack vs fastest direct: first token {s_ttft - d_ttft:+.1f} ms, "
        f"tokens/s {100 * s_rate / d_rate:.1f}% (budget >= 95%)"
    )


if __name__ == "__main__":
    main()
