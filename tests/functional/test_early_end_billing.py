"""A stream that ends early is billed for what the model generated (issue 25 §2), as docs/api.md
("What a stream that ends early costs") says: the model's own running count where the container
sends one (vLLM's continuous_usage_stats, which the scripted model sends like LMI), else the text
sent counted as one token per UTF-8 byte, never fewer than the pieces. The real app under uvicorn,
the local SageMaker runtime with a scripted model, moto; every bill is read back from
GET /v1/usage."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

from sparkai_local.sagemaker import Script
from tests.conftest import JsonLogs
from tests.functional.test_streaming import chunks_of, content, data_lines
from tests.support.chat_server import ChatApi

PROMPT_TOKENS = 24  # the scripted model's count of the prompt
# "😀" and "𠜎" (a rare CJK character, 4 UTF-8 bytes) each take two tokens: the first one ends
# inside the character, so the model sends "" for it. Eight tokens, of which three sent text.
EMOJI = Script(chunks=["", "😀", "", "𠜎", "", "😀", " ok", "!"], tokens=[1] * 8)


def usage_totals(chat_api: ChatApi) -> dict[str, Any]:
    """GET /v1/usage's totals, once checked against the month's spend counter: the worst-case
    reservation came back down to exactly the cost charged."""
    usage, spend = chat_api.charged()
    totals: dict[str, Any] = usage["totals"]
    assert Decimal(totals["cost_usd"]) == spend
    return totals


def leave_after(chat_api: ChatApi, pieces: int) -> list[dict[str, Any]]:
    """Read the role chunk and `pieces` content chunks, then close the connection."""
    with chat_api.stream() as response:
        assert response.status_code == 200
        lines = data_lines(response.iter_lines())
        return [json.loads(next(lines)) for _ in range(1 + pieces)]


def settled(json_logs: JsonLogs) -> dict[str, Any]:
    """The one usage record, once the stream's settle (after the ledger write) logged it."""
    (record,) = json_logs.wait_for("usage")
    return record


def test_multibyte_text_cut_mid_stream_is_billed_the_models_count(
    chat_api: ChatApi, json_logs: JsonLogs
) -> None:
    # Given a model held after its fourth token, which completes "𠜎" (two pieces sent, 4 tokens)
    chat_api.model.backend.set_script("spark-1", replace(EMOJI, gate_after=4))
    received = leave_after(chat_api, 2)
    # When the client leaves there
    assert content(received) == "😀𠜎"
    assert settled(json_logs)["complete"] is False
    # Then the account pays the four tokens the model generated, not one per piece (2)
    totals = usage_totals(chat_api)
    assert (totals["requests"], totals["prompt_tokens"], totals["completion_tokens"]) == (
        1,
        PROMPT_TOKENS,
        4,
    )


def test_merged_chunks_cut_mid_stream_are_billed_every_token_in_them(
    chat_api: ChatApi, json_logs: JsonLogs
) -> None:
    # Given a model under load that sends several tokens per chunk
    chat_api.model.backend.set_script(
        "spark-1",
        Script(
            chunks=["Hello there, how", " are you", " doing today?"], tokens=[4, 2, 3], gate_after=2
        ),
    )
    received = leave_after(chat_api, 2)
    assert content(received) == "Hello there, how are you"
    settled(json_logs)
    totals = usage_totals(chat_api)
    assert (totals["prompt_tokens"], totals["completion_tokens"]) == (PROMPT_TOKENS, 6)


def test_a_model_error_after_some_tokens_bills_the_tokens_it_generated(
    chat_api: ChatApi, json_logs: JsonLogs
) -> None:
    # Given a model that fails after five chunks (six tokens: "", "😀", "", "𠜎", "", then fails)
    chat_api.model.backend.set_script(
        "spark-1",
        Script(chunks=EMOJI.chunks, tokens=[1, 1, 1, 1, 2, 1, 1, 1], fail_after=5),
    )
    with chat_api.stream() as response:
        events = list(data_lines(response.iter_lines()))
    assert json.loads(events[-1])["error"]["code"] == "model_error"
    assert content(chunks_of(events[:-1])) == "😀𠜎"
    settled(json_logs)
    totals = usage_totals(chat_api)
    assert (totals["prompt_tokens"], totals["completion_tokens"]) == (PROMPT_TOKENS, 6)


def test_without_the_models_count_an_early_end_is_billed_one_token_per_byte_sent(
    chat_api: ChatApi, json_logs: JsonLogs
) -> None:
    # Given a container that sends no usage at all, cut after "😀𠜎" (8 UTF-8 bytes, 4 tokens)
    chat_api.model.backend.set_script(
        "spark-1",
        replace(EMOJI, include_usage=False, gate_after=4),
    )
    received = leave_after(chat_api, 2)
    assert content(received) == "😀𠜎"
    record = settled(json_logs)
    # Then the bill is the documented upper bound: never below the tokens generated (4) or the
    # pieces (2), and the prompt is the estimate (no count came from the model).
    totals = usage_totals(chat_api)
    assert totals["completion_tokens"] == len("😀𠜎".encode()) == 8
    assert totals["prompt_tokens"] == record["prompt_tokens"] > 0


def test_a_complete_stream_is_billed_the_models_final_count(
    chat_api: ChatApi, json_logs: JsonLogs
) -> None:
    # The running count does not change what a complete answer costs, and the ledger still
    # equals the usage the API returned.
    chat_api.model.backend.set_script("spark-1", EMOJI)
    with chat_api.stream() as response:
        chunks = chunks_of(list(data_lines(response.iter_lines())))
    returned = chunks[-1]["usage"]
    assert returned == {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": 8,
        "total_tokens": PROMPT_TOKENS + 8,
    }
    assert all("usage" not in c for c in chunks[:-1])  # the running counts stay between us
    settled(json_logs)  # the settle runs once [DONE] is out
    totals = usage_totals(chat_api)
    assert (totals["prompt_tokens"], totals["completion_tokens"]) == (PROMPT_TOKENS, 8)


def test_tool_call_arguments_cut_without_the_models_count_are_billed_by_their_bytes(
    chat_api: ChatApi, json_logs: JsonLogs
) -> None:
    # Given a container with no usage streaming one call: its head (name), then 8-character
    # pieces of the arguments; held after the head and two pieces
    arguments = '{"city": "Zürich", "unit": "celsius"}'
    chat_api.model.backend.set_script(
        "spark-1",
        Script(
            chunks=[],
            tool_calls=[{"name": "get_weather", "arguments": arguments}],
            include_usage=False,
            gate_after=3,
        ),
    )
    received = leave_after(chat_api, 3)
    sent = "".join(
        c["choices"][0]["delta"]["tool_calls"][0]["function"].get("name", "")
        + c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
        for c in received[1:]
    )
    assert sent == "get_weather" + arguments[:16]  # '{"city": "Zürich': 16 characters, 17 bytes
    settled(json_logs)
    # Then the name and argument bytes sent are billed, never just one token per piece (3)
    assert usage_totals(chat_api)["completion_tokens"] == len(sent.encode()) == 28
