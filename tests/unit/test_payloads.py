"""The container contract: payloads sent, answers and stream events understood."""

from __future__ import annotations

import json

import pytest

from sparkai.endpoints.payloads import (
    PayloadPartDecoder,
    build_payload,
    delta_from_event,
    parse_completion,
)
from sparkai.endpoints.port import GenerationRequest, Message, ModelDelta, TokenUsage
from sparkai.errors import ModelEndpointError


def test_payload_is_the_openai_messages_shape() -> None:
    payload = build_payload(
        GenerationRequest(
            (Message("user", "hi"),),
            max_tokens=10,
            temperature=0.2,
            top_p=0.9,
            stop=("\n",),
            stream=True,
        )
    )
    assert payload == {
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 10,
        "temperature": 0.2,
        "stream": True,
        "top_p": 0.9,
        "stop": ["\n"],
        # vLLM's running count on every chunk: what an early end is billed (docs/api.md)
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
    }
    plain = build_payload(
        GenerationRequest((), max_tokens=1, temperature=0.7, top_p=None, stop=(), stream=False)
    )
    assert "top_p" not in plain and "stop" not in plain and "stream_options" not in plain


def test_openai_completion_is_parsed() -> None:
    body = {
        "choices": [{"message": {"role": "assistant", "content": "Hi"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
    reply = parse_completion(json.dumps(body).encode())
    assert (reply.content, reply.finish_reason, reply.usage) == ("Hi", "length", TokenUsage(3, 1))


def test_generated_text_answers_are_parsed() -> None:
    reply = parse_completion(
        b'[{"generated_text": "Hi there", "details": {"finish_reason": "eos_token", "generated_tokens": 2, "prefill": [1, 2, 3]}}]'
    )
    assert (reply.content, reply.finish_reason, reply.usage) == (
        "Hi there",
        "stop",
        TokenUsage(3, 2),
    )
    assert parse_completion(b'{"generated_text": "x"}').usage is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"unexpected": 1}',
        b'{"choices": []}',
        b'{"error": "CUDA out of memory"}',
    ],
)
def test_unusable_answers_are_model_errors(body: bytes) -> None:
    with pytest.raises(ModelEndpointError):
        parse_completion(body)


def test_stream_events() -> None:
    assert delta_from_event(
        {"choices": [{"delta": {"content": "a"}, "finish_reason": None}]}
    ) == ModelDelta("a")
    assert delta_from_event({"choices": [{"delta": {}, "finish_reason": "stop"}]}) == ModelDelta(
        "", "stop"
    )
    assert delta_from_event(
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7}}
    ) == ModelDelta(usage=TokenUsage(5, 7))
    assert delta_from_event({"token": {"text": "b", "special": False}}) == ModelDelta("b")
    assert delta_from_event(
        {
            "token": {"text": "</s>", "special": True},
            "details": {"finish_reason": "eos_token", "generated_tokens": 4},
        }
    ) == ModelDelta("", "stop", TokenUsage(0, 4))
    assert delta_from_event({"something": "else"}) is None
    with pytest.raises(ModelEndpointError):
        delta_from_event({"error": {"message": "boom"}})


def decode_all(parts: list[bytes]) -> list[dict]:
    decoder = PayloadPartDecoder()
    events = [e for p in parts for e in decoder.feed(p)]
    return events + decoder.finish()


def test_sse_split_anywhere_including_inside_a_character() -> None:
    wire = 'data: {"a": "Grüße"}\n\n: keep-alive\n\ndata: {"b": 1}\n\ndata: [DONE]\n\n'.encode()
    for cut in range(1, len(wire)):
        assert decode_all([wire[:cut], b"", wire[cut:]]) == [{"a": "Grüße"}, {"b": 1}]


def test_json_lines_and_a_last_line_without_newline() -> None:
    assert decode_all([b'{"a": 1}\n{"b"', b': 2}\n{"c": 3}']) == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_nothing_after_done_and_crlf_lines() -> None:
    assert decode_all([b'data: {"a": 1}\r\n\r\ndata: [DONE]\r\n\r\ndata: {"late": 1}\n']) == [
        {"a": 1}
    ]


def test_a_malformed_event_is_a_model_error() -> None:
    with pytest.raises(ModelEndpointError):
        decode_all([b"data: {not json}\n\n"])


def test_lone_surrogates_become_replacement_characters_buffered_and_streamed() -> None:
    # `\ud83d` alone (half an emoji, JSON-escaped) and CESU-style bytes (json decodes with
    # surrogatepass) would make a str no UTF-8 answer can carry.
    call = (
        b'"tool_calls":[{"id":"c1","type":"function",'
        b'"function":{"name":"f","arguments":"{\\"a\\":\\"\\udc00\\"}"}}]'
    )
    body = b'{"choices":[{"message":{"content":"Hi \\ud83d \xed\xa0\xbd",' + call + b"}}]}"
    reply = parse_completion(body)
    assert reply.content == "Hi \ufffd \ufffd"
    assert reply.tool_calls[0].arguments == '{"a":"\ufffd"}'
    assert parse_completion(b'{"generated_text":"x\\ud83d"}').content == "x\ufffd"
    event = b'data: {"choices":[{"delta":{"content":"\\ud83d!",' + call + b"}}]}\n"
    (decoded,) = PayloadPartDecoder().feed(event)
    delta = delta_from_event(decoded)
    assert delta is not None and delta.content == "\ufffd!"
    assert delta.tool_calls[0].arguments == '{"a":"\ufffd"}'
    # A well-formed pair, escaped or not, is one character and stays as it is.
    assert parse_completion('{"generated_text":"\\ud83d\\ude00 😀"}'.encode()).content == "😀 😀"
