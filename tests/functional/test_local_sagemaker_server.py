"""The local SageMaker Runtime against an unmodified boto3 client and the production adapter:
buffered and streamed answers in both container styles, SageMaker's errors, and what the server
does when a stream is held at a gate or its client goes away."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError, EventStreamError

from sparkai.endpoints.payloads import PayloadPartDecoder, build_payload, delta_from_event
from sparkai.endpoints.port import GenerationRequest, Message, ModelDelta, TokenUsage
from sparkai.endpoints.sagemaker import SageMakerEndpoint
from sparkai.errors import ContextLengthExceededError, ModelEndpointError, ModelUnavailableError
from sparkai_local.sagemaker import Script
from sparkai_local.sagemaker.containers import chunk, encode_chunk, end_of_stream, usage_chunk
from sparkai_local.sagemaker.scripted import DEFAULT_CHUNKS, DEFAULT_PROMPT_TOKENS, InvokeError
from tests.support.fixtures_servers import SageMakerServer, sagemaker_runtime_client

ENDPOINT = "spark-1"
DEFAULT_TEXT = "".join(DEFAULT_CHUNKS)
WAIT = 10  # seconds to wait for something the server does in the background; never asserted on
ROOT = Path(__file__).resolve().parents[2]


def generation(*, stream: bool, max_tokens: int = 64) -> GenerationRequest:
    return GenerationRequest(
        (Message("user", "Hi, how are you?"),),
        max_tokens=max_tokens,
        temperature=0.2,
        top_p=None,
        stop=(),
        stream=stream,
    )


def payload(*, stream: bool, max_tokens: int = 64) -> dict[str, Any]:
    return build_payload(generation(stream=stream, max_tokens=max_tokens))


def invoke_stream(client: Any, endpoint: str = ENDPOINT, **kwargs: Any) -> Any:
    return client.invoke_endpoint_with_response_stream(
        EndpointName=endpoint,
        Body=json.dumps(payload(stream=True, **kwargs)),
        ContentType="application/json",
        Accept="application/json",
    )


def adapter(client: Any, endpoint: str = ENDPOINT) -> SageMakerEndpoint:
    return SageMakerEndpoint(endpoint, lambda: client)


def joined(deltas: list[ModelDelta]) -> str:
    return "".join(d.content for d in deltas)


def final_usage(deltas: list[ModelDelta]) -> TokenUsage | None:
    return next((d.usage for d in reversed(deltas) if d.usage), None)


# -- InvokeEndpoint --


def test_invoke_endpoint_returns_the_chat_completion(sagemaker_client: Any) -> None:
    response = sagemaker_client.invoke_endpoint(
        EndpointName=ENDPOINT,
        Body=json.dumps(payload(stream=False)),
        ContentType="application/json",
        Accept="application/json",
    )

    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    answer = json.loads(response["Body"].read())
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": DEFAULT_TEXT}
    assert answer["usage"] == {
        "prompt_tokens": DEFAULT_PROMPT_TOKENS,
        "completion_tokens": len(DEFAULT_CHUNKS),
        "total_tokens": DEFAULT_PROMPT_TOKENS + len(DEFAULT_CHUNKS),
    }


def test_production_adapter_invokes(
    sagemaker_server: SageMakerServer, sagemaker_client: Any
) -> None:
    sagemaker_server.backend.set_script(ENDPOINT, Script(chunks=["Four", "."], prompt_tokens=9))

    reply = adapter(sagemaker_client).invoke(generation(stream=False))

    assert (reply.content, reply.finish_reason) == ("Four.", "stop")
    assert reply.usage == TokenUsage(9, 2)
    assert sagemaker_server.backend.invocations == {ENDPOINT: 1}


# -- InvokeEndpointWithResponseStream --


@pytest.mark.parametrize("style", ["tgi", "lmi"])
def test_stream_delivers_payload_parts_in_the_container_style(
    sagemaker_server: SageMakerServer, sagemaker_client: Any, style: str
) -> None:
    sagemaker_server.backend.set_script(ENDPOINT, Script(style=style))  # type: ignore[arg-type]

    response = invoke_stream(sagemaker_client)
    parts = [event["PayloadPart"]["Bytes"] for event in response["Body"]]

    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    if style == "tgi":
        assert all(p.startswith(b"data: ") and p.endswith(b"\n\n") for p in parts)
        assert parts[-1] == b"data: [DONE]\n\n"
    else:
        assert all(p.startswith(b"{") and p.endswith(b"}\n") for p in parts)
    decoder = PayloadPartDecoder()
    events = [event for part in parts for event in decoder.feed(part)] + decoder.finish()
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    deltas = [d for e in events if (d := delta_from_event(e)) is not None]
    assert joined(deltas) == DEFAULT_TEXT
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]
    assert events[-1]["choices"] == []
    assert final_usage(deltas) == TokenUsage(DEFAULT_PROMPT_TOKENS, len(DEFAULT_CHUNKS))
    record = sagemaker_server.backend.wait_for_stream()
    assert record.finished.wait(WAIT)
    assert (record.completed, record.closed_early, record.chunks_emitted) == (
        True,
        False,
        len(DEFAULT_CHUNKS),
    )


@pytest.mark.parametrize("style", ["tgi", "lmi"])
def test_production_adapter_streams(
    sagemaker_server: SageMakerServer, sagemaker_client: Any, style: str
) -> None:
    script = Script(chunks=["Stream", "ing ", "works", "."], style=style, prompt_tokens=12)  # type: ignore[arg-type]
    sagemaker_server.backend.set_script(ENDPOINT, script)

    deltas = list(adapter(sagemaker_client).stream(generation(stream=True)))

    assert joined(deltas) == "Streaming works."
    assert final_usage(deltas) == TokenUsage(12, 4)


def test_usage_chunk_follows_the_script_over_the_request(
    sagemaker_server: SageMakerServer, sagemaker_client: Any
) -> None:
    sagemaker_server.backend.set_script(ENDPOINT, Script(include_usage=False))

    deltas = list(adapter(sagemaker_client).stream(generation(stream=True)))

    assert joined(deltas) == DEFAULT_TEXT
    assert final_usage(deltas) is None


def _split_raw_stream(style: str) -> list[bytes]:
    """A container's stream cut at awkward places: keep-alives, a line split mid-word, and a UTF-8
    character split between two parts."""
    events = [
        chunk("c1", "m", content="Café", role="assistant"),
        chunk("c1", "m", content=" crème 🍰"),
        chunk("c1", "m", finish_reason="stop"),
        usage_chunk("c1", "m", 7, 3),
    ]
    body = b"".join(encode_chunk(e, style) for e in events) + end_of_stream(style)  # type: ignore[arg-type]
    e_acute = body.index("é".encode()) + 1  # between the two bytes of é
    cake = body.index("🍰".encode()) + 2  # inside the four bytes of 🍰
    keep_alive = b": keep-alive\n\n" if style == "tgi" else b"\n"
    return [keep_alive, b"", body[:7], body[7:e_acute], body[e_acute:cake], b"", body[cake:]]


@pytest.mark.parametrize("style", ["tgi", "lmi"])
def test_raw_parts_split_anywhere_decode_in_the_production_adapter(
    sagemaker_server: SageMakerServer, sagemaker_client: Any, style: str
) -> None:
    parts = _split_raw_stream(style)
    sagemaker_server.backend.set_script(ENDPOINT, Script(raw_parts=parts))

    response = invoke_stream(sagemaker_client)
    assert [e["PayloadPart"]["Bytes"] for e in response["Body"]] == parts

    deltas = list(adapter(sagemaker_client).stream(generation(stream=True)))
    assert joined(deltas) == "Café crème 🍰"
    assert final_usage(deltas) == TokenUsage(7, 3)


# -- errors --


def test_model_error_carries_the_containers_status_and_message(
    sagemaker_server: SageMakerServer, sagemaker_client: Any
) -> None:
    too_long = "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096"
    error = InvokeError("ModelError", too_long, count=3, original_status_code=422)
    sagemaker_server.backend.set_script(ENDPOINT, Script(invoke_error=error))

    with pytest.raises(ClientError) as raised:
        sagemaker_client.invoke_endpoint(
            EndpointName=ENDPOINT, Body=json.dumps(payload(stream=False))
        )

    response = raised.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert "Received client error (422)" in response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    # botocore puts a modeled error's members at the top level of the response, not under Error.
    assert response["OriginalStatusCode"] == 422
    assert json.loads(response["OriginalMessage"])["error"] == too_long
    assert response["LogStreamArn"].endswith(":log-group:/aws/sagemaker/Endpoints/spark-1")

    # The adapter keeps the useful part (the window) and none of the container's own words.
    with pytest.raises(ContextLengthExceededError, match="context window of 4,096 tokens"):
        adapter(sagemaker_client).invoke(generation(stream=False))
    with pytest.raises(ContextLengthExceededError):
        adapter(sagemaker_client).stream(generation(stream=True))


@pytest.mark.parametrize(
    ("code", "status", "domain_error"),
    [
        ("ServiceUnavailable", 503, ModelUnavailableError),
        ("ModelNotReadyException", 429, ModelUnavailableError),
        ("ThrottlingException", 400, ModelUnavailableError),
        ("InternalFailure", 500, ModelEndpointError),
    ],
)
def test_sagemaker_errors_reach_botocore_with_their_code(
    sagemaker_server: SageMakerServer,
    sagemaker_client: Any,
    code: str,
    status: int,
    domain_error: type[Exception],
) -> None:
    error = InvokeError(code, f"{code} for the test", count=3)
    sagemaker_server.backend.set_script(ENDPOINT, Script(invoke_error=error))

    with pytest.raises(ClientError) as raised:
        invoke_stream(sagemaker_client)

    assert raised.value.response["Error"] == {"Code": code, "Message": f"{code} for the test"}
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    with pytest.raises(domain_error):
        adapter(sagemaker_client).invoke(generation(stream=False))


def test_invoke_error_fails_only_the_next_count_invocations(
    sagemaker_server: SageMakerServer, sagemaker_client: Any
) -> None:
    sagemaker_server.backend.set_script(ENDPOINT, Script(invoke_error=InvokeError(count=2)))
    endpoint = adapter(sagemaker_client)

    for _ in range(2):
        with pytest.raises(ModelUnavailableError):
            endpoint.invoke(generation(stream=False))
    assert endpoint.invoke(generation(stream=False)).content == DEFAULT_TEXT
    assert sagemaker_server.backend.invocations == {ENDPOINT: 3}


def test_unknown_endpoint_is_a_validation_error(sagemaker_client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        invoke_stream(sagemaker_client, endpoint="spark-missing")

    assert raised.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": "Endpoint spark-missing of account 123456789012 not found.",
    }
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ModelUnavailableError, match="not deployed"):
        adapter(sagemaker_client, "spark-missing").invoke(generation(stream=False))


def test_invalid_json_is_the_containers_400(sagemaker_client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        sagemaker_client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{not json")

    assert raised.value.response["Error"]["Code"] == "ModelError"
    assert raised.value.response["OriginalStatusCode"] == 400


@pytest.mark.parametrize("kind", ["ModelStreamError", "InternalStreamFailure"])
def test_mid_stream_failure_is_an_event_stream_error(
    sagemaker_server: SageMakerServer, sagemaker_client: Any, kind: str
) -> None:
    script = Script(fail_after=2, fail_with=kind, fail_message="The container died")  # type: ignore[arg-type]
    sagemaker_server.backend.set_script(ENDPOINT, script)

    events = iter(invoke_stream(sagemaker_client)["Body"])
    received = [next(events), next(events)]
    with pytest.raises(EventStreamError) as raised:
        next(events)

    assert all("PayloadPart" in e for e in received)
    assert raised.value.response["Error"] == {"Code": kind, "Message": "The container died"}
    record = sagemaker_server.backend.wait_for_stream()
    assert (record.failed, record.chunks_emitted, record.completed) == (kind, 2, False)

    stream = adapter(sagemaker_client).stream(generation(stream=True))
    with pytest.raises(ModelEndpointError, match="stream failed"):
        list(stream)


# -- ordering and disconnects --


def test_gate_holds_the_stream_after_the_first_chunk(
    sagemaker_server: SageMakerServer, sagemaker_client: Any
) -> None:
    backend = sagemaker_server.backend
    backend.set_script(ENDPOINT, Script(gate_after=1))

    events = iter(invoke_stream(sagemaker_client)["Body"])
    first = next(events)

    record = backend.wait_for_stream()
    assert b"Hello!" in first["PayloadPart"]["Bytes"]
    assert record.at_gate.wait(WAIT)
    assert (record.waiting_at_gate, record.chunks_emitted, record.completed) == (True, 1, False)

    backend.release(ENDPOINT)
    rest = list(events)

    assert rest[-1] == {"PayloadPart": {"Bytes": b"data: [DONE]\n\n"}}
    assert record.finished.wait(WAIT)
    assert (record.completed, record.chunks_emitted) == (True, len(DEFAULT_CHUNKS))


def test_the_ended_read_answers_with_the_record_once_the_stream_has_ended(
    sagemaker_server: SageMakerServer, sagemaker_client: Any
) -> None:
    # Given a stream held at the gate after one chunk
    backend = sagemaker_server.backend
    backend.set_script(ENDPOINT, Script(gate_after=1))
    events = iter(invoke_stream(sagemaker_client)["Body"])
    next(events)
    assert backend.wait_for_stream().at_gate.wait(WAIT)
    # When a test asks for its end while it is still held, then the stream is released
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        ended = pool.submit(
            httpx.get, f"{sagemaker_server.url}/_local/streams/0/ended", timeout=WAIT * 2
        )
        backend.release(ENDPOINT)
        list(events)
        answer = ended.result()
    # Then the answer is the finished record (a read that returned early would show it held)
    assert answer.status_code == 200
    assert answer.json() == {
        "endpoint": ENDPOINT,
        "chunks_emitted": len(DEFAULT_CHUNKS),
        "waiting_at_gate": False,
        "completed": True,
        "closed_early": False,
        "failed": None,
    }
    # and a stream that never started is a 504 once the timeout passes, not a hang
    missing = httpx.get(f"{sagemaker_server.url}/_local/streams/1/ended?timeout=0")
    assert missing.status_code == 504, missing.text


def _assert_closed_early_after(sagemaker_server: SageMakerServer, chunks: int) -> None:
    backend = sagemaker_server.backend
    record = backend.wait_for_stream()
    assert record.finished.wait(WAIT), "the server did not notice the client went away"
    assert (record.closed_early, record.completed, record.chunks_emitted) == (True, False, chunks)
    backend.release(ENDPOINT)  # even once released, a closed stream sends nothing more
    assert record.chunks_emitted == chunks
    stats = httpx.get(f"{sagemaker_server.url}/_local/stats").json()
    assert stats["streams"] == {"started": 1, "completed": 0, "closed_early": 1, "failed": 0}


def test_adapter_close_stops_the_stream_on_the_server(
    sagemaker_server: SageMakerServer, sagemaker_client: Any
) -> None:
    sagemaker_server.backend.set_script(ENDPOINT, Script(gate_after=2))
    stream = adapter(sagemaker_client).stream(generation(stream=True))
    deltas = iter(stream)

    assert [next(deltas).content, next(deltas).content] == ["Hello!", " I'm"]
    stream.close()

    _assert_closed_early_after(sagemaker_server, 2)


def test_raw_close_of_the_event_stream_stops_the_stream(
    sagemaker_server: SageMakerServer, sagemaker_client: Any
) -> None:
    sagemaker_server.backend.set_script(ENDPOINT, Script(gate_after=2))
    body = invoke_stream(sagemaker_client)["Body"]
    events = iter(body)

    next(events), next(events)
    body.close()

    _assert_closed_early_after(sagemaker_server, 2)


def test_disconnect_is_noticed_during_a_delay(
    sagemaker_server: SageMakerServer, sagemaker_client: Any
) -> None:
    # A delay far longer than WAIT: the record can only finish in time if the delay is cut short.
    sagemaker_server.backend.set_script(ENDPOINT, Script(delay_seconds=600))
    stream = adapter(sagemaker_client).stream(generation(stream=True))

    assert next(iter(stream)).content == "Hello!"
    stream.close()

    _assert_closed_early_after(sagemaker_server, 1)


# -- the control API and the command line --


def test_control_api_scripts_stats_and_reset(
    sagemaker_server: SageMakerServer, sagemaker_client: Any
) -> None:
    url = sagemaker_server.url
    script = {"chunks": ["Scripted", " over HTTP"], "style": "lmi", "raw_parts": None}
    assert httpx.get(f"{url}/ping").status_code == 200
    assert httpx.put(f"{url}/_local/scripts/spark-new", json=script).status_code == 200
    assert httpx.put(f"{url}/_local/scripts/spark-new", json={"bogus": 1}).status_code == 400

    deltas = list(adapter(sagemaker_client, "spark-new").stream(generation(stream=True)))

    assert joined(deltas) == "Scripted over HTTP"
    stats = httpx.get(f"{url}/_local/stats").json()
    assert stats["invocations"] == {"spark-new": 1}
    assert stats["streams"] == {"started": 1, "completed": 1, "closed_early": 0, "failed": 0}
    assert httpx.post(f"{url}/_local/reset").status_code == 204
    assert httpx.get(f"{url}/_local/stats").json()["invocations"] == {}
    with pytest.raises(ModelUnavailableError):  # reset forgets endpoints added by scripts
        adapter(sagemaker_client, "spark-new").invoke(generation(stream=False))


def test_script_json_round_trip_keeps_split_utf8_bytes() -> None:
    script = Script(raw_parts=[b"caf\xc3", b"\xa9\n"], gate_after=1)

    assert Script.from_dict(json.loads(json.dumps(script.to_dict()))) == script


@pytest.mark.local
def test_command_line_server_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    scripts = tmp_path / "scripts.json"
    scripts.write_text(json.dumps({"spark-1": {"chunks": ["From", " a file"]}}))
    process = subprocess.Popen(
        [sys.executable, "-m", "sparkai_local.sagemaker", "--port", "0", "--script", str(scripts)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:"), line

        deltas = list(adapter(sagemaker_runtime_client(url)).stream(generation(stream=True)))

        assert joined(deltas) == "From a file"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT + 5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- the real model --


@pytest.mark.slow
def test_llama_backend_answers_buffered_and_streamed() -> None:
    # The model runs in its own process, as under `make run`: native code never runs in a test
    # worker (a crash there would take the worker down, not fail this test).
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "sparkai_local.sagemaker", "--backend", "llama"),
            *("--port", "0", "--n-ctx", "2048", "--warm-up", "any-endpoint-name"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = []
        while not (line := process.stdout.readline()).startswith("Local SageMaker Runtime"):
            assert line, "the llama server exited before listening:\n" + "".join(lines)
            lines.append(line)
        url = line.rsplit(" ", 1)[-1].strip()
        client = sagemaker_runtime_client(url)
        endpoint = adapter(client, "any-endpoint-name")

        reply = endpoint.invoke(generation(stream=False, max_tokens=16))
        deltas = list(endpoint.stream(generation(stream=True, max_tokens=16)))

        too_long = build_payload(
            GenerationRequest(
                (Message("user", "word " * 3000),),
                max_tokens=16,
                temperature=0.2,
                top_p=None,
                stop=(),
                stream=False,
            )
        )
        with pytest.raises(ClientError) as raised:
            client.invoke_endpoint(EndpointName="any-endpoint-name", Body=json.dumps(too_long))
        stats = httpx.get(f"{url}/_local/stats").json()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT + 5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert any(line.startswith("warm-up: any-endpoint-name generated a token") for line in lines)
    assert reply.content.strip()
    assert reply.usage is not None and reply.usage.prompt_tokens > 10
    assert 0 < reply.usage.completion_tokens <= 16
    assert joined(deltas).strip()
    usage = final_usage(deltas)
    assert usage is not None and 0 < usage.completion_tokens <= 16
    assert usage.prompt_tokens == reply.usage.prompt_tokens
    # Like vLLM with continuous_usage_stats (which build_payload asks for), every chunk carries
    # the tokens sampled so far: never behind the pieces sent, never going back, the last one the
    # final count; an answer cut at max_tokens sampled exactly max_tokens.
    running, pieces = [], 0
    for delta in deltas:
        pieces += bool(delta.content)
        if delta.usage is not None:
            running.append(delta.usage.completion_tokens)
            assert delta.usage.completion_tokens >= pieces
    assert len(running) >= pieces and running == sorted(running)
    assert running[-1] == usage.completion_tokens
    if any(d.finish_reason == "length" for d in deltas):
        assert usage.completion_tokens == 16
    assert raised.value.response["Error"]["Code"] == "ModelError"
    assert raised.value.response["OriginalStatusCode"] == 422
    assert "must have less than 2048 tokens" in raised.value.response["OriginalMessage"]
    assert stats["streams"]["completed"] == 1  # the warm-up is not counted
    assert stats["invocations"] == {"any-endpoint-name": 3}  # buffered, streamed, too long


def test_repetition_guard_spots_a_looping_answer() -> None:
    from sparkai_local.sagemaker.llama import is_looping

    assert is_looping("Sure! " + "I am a helpful assistant. " * 3)
    assert not is_looping("I am a helpful assistant. I am a helpful assistant.")
    assert not is_looping("| a | b |\n|---|---|---|---|---|---|---|")
    assert not is_looping(DEFAULT_TEXT)
