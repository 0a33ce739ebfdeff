"""The shared wire-level fixtures (sdk/fixtures, also replayed by the JavaScript and PHP SDKs):
the same requests, answers, event streams and errors give the same results in every SDK."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

import sparkaistream

from _support import BASE_URL, STREAM_URL, RecordingStream, Script, make_client

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FIXTURE_KEY = "sk-spark-fixture-key-do-not-leak-0000"
KEY_PATTERN = re.compile(r"^sparkai-[0-9a-f]{32}$")
CHAT_ARGS = {"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}]}


def cases(name: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))["cases"]


def by_name(items: list[dict[str, Any]]) -> Any:
    return pytest.mark.parametrize("case", items, ids=[c["name"] for c in items])


REQUESTS = cases("requests.json")
FIRST_ARGS = {c["call"]: c["args"] for c in reversed(REQUESTS)} | {"chat.create": CHAT_ARGS}


def invoke(client: sparkaistream.SparkAI, call: str, args: dict[str, Any]) -> Any:
    if call == "chat.create":
        return client.chat.create(**args)
    if call == "models.list":
        return client.models.list()
    if call == "models.retrieve":
        return client.models.retrieve(args["id"])
    if call == "usage.retrieve":
        return client.usage.retrieve(**args)
    raise AssertionError(f"unknown call {call}")


def client_for(script: Script, **kwargs: Any) -> tuple[sparkaistream.SparkAI, list[float]]:
    return make_client(script, api_key=FIXTURE_KEY, **kwargs)


@by_name(REQUESTS)
def test_requests(case: dict[str, Any]) -> None:
    expect = case["expect"]
    if expect["headers"].get("accept") == "text/event-stream":
        answer = httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=b"data: [DONE]\n\n"
        )
    elif case["call"] == "models.list":
        answer = httpx.Response(200, json={"object": "list", "data": []})
    else:
        answer = httpx.Response(200, json={"id": "x", "object": "usage"})
    script = Script(answer)
    client, _ = client_for(script)
    result = invoke(client, case["call"], case["args"])
    if isinstance(result, sparkaistream.Stream):
        result.close()
    assert script.calls == 1
    request = script.requests[0]
    assert request.method == expect["method"]
    base = STREAM_URL if expect["url"] == "stream" else BASE_URL
    assert str(request.url).split("?")[0] == base + expect["path"]
    assert dict(parse_qsl(request.url.query.decode())) == expect["query"]
    assert (json.loads(request.content) if request.content else None) == expect["body"]
    for name, value in expect["headers"].items():
        assert request.headers.get(name) == value, name
    assert request.headers["authorization"] == f"Bearer {FIXTURE_KEY}"
    key = request.headers.get("idempotency-key")
    if expect["idempotency_key"]:
        assert key is not None and KEY_PATTERN.match(key), key
    else:
        assert key is None


@by_name(cases("responses.json"))
def test_responses(case: dict[str, Any]) -> None:
    script = Script(httpx.Response(case["status"], json=case["body"], headers=case["headers"]))
    client, _ = client_for(script)
    result = invoke(client, case["call"], FIRST_ARGS[case["call"]])
    expect = case["expect"]
    if case["call"] == "chat.create":
        assert result.id == expect["id"] and result.model == expect["model"]
        assert result.choices[0].message.content == expect["text"]
        assert result.choices[0].finish_reason == expect["finish_reason"]
        assert vars(result.usage) == expect["usage"]
        assert result.request_id == expect["request_id"]
        assert vars(result.rate_limit) == pytest.approx(expect["rate_limit"])
        calls = result.choices[0].message.tool_calls
        assert (None if calls is None else [c.to_dict() for c in calls]) == expect["tool_calls"]
        if "json" in expect:
            assert json.loads(result.choices[0].message.content) == expect["json"]
    elif case["call"] == "models.list":
        assert [m.id for m in result] == expect["ids"]
    elif case["call"] == "models.retrieve":
        assert result.id == expect["id"]
        assert result.context_length == expect["context_length"]
        assert result.max_tokens == expect["max_tokens"]
        assert str(result.pricing.per_1k_tokens_usd) == expect["price_per_1k_tokens_usd"]
    else:
        assert len(result.data) == expect["rows"]
        totals = vars(result.totals)
        assert {**totals, "cost_usd": str(totals["cost_usd"])} == expect["totals"]
        limit = result.spend_limit_usd
        assert (None if limit is None else str(limit)) == expect["spend_limit_usd"]
        assert str(result.month_to_date_usd) == expect["month_to_date_usd"]


def replays() -> list[Any]:
    out = []
    for case in cases("sse.json"):
        raw = case["body"].encode("utf-8")
        ways = [("whole", [raw]), ("one-byte", [raw[i : i + 1] for i in range(len(raw))])]
        for offsets in case["splits"]:
            edges = [0, *offsets, len(raw)]
            pieces = [raw[a:b] for a, b in zip(edges, edges[1:]) if b > a]
            ways.append(("split-" + "-".join(map(str, offsets)), pieces))
        out += [pytest.param(case, pieces, id=f"{case['name']}-{how}") for how, pieces in ways]
    return out


@pytest.mark.parametrize(("case", "pieces"), replays())
def test_sse(case: dict[str, Any], pieces: list[bytes]) -> None:
    body = RecordingStream(pieces)
    script = Script(httpx.Response(200, headers=case["headers"], stream=body))
    client, _ = client_for(script)
    stream = client.chat.create(**CHAT_ARGS, stream=True)
    chunks: list[Any] = []
    error: Exception | None = None
    try:
        for chunk in stream:
            chunks.append(chunk)
    except sparkaistream.SparkAIError as exc:
        error = exc
    expect = case["expect"]
    assert len(chunks) == expect["chunks"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expect["text"]
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert (finish[-1] if finish else None) == expect["finish_reason"]
    usage = [vars(c.usage) for c in chunks if c.usage is not None]
    assert (usage[-1] if usage else None) == expect["usage"]
    assert stream.request_id == case["headers"]["x-request-id"]
    assert body.closed
    if "tool_calls" in expect:
        calls = stream.get_final_completion().choices[0].message.tool_calls or []
        assert [c.to_dict() for c in calls] == expect["tool_calls"]
    if expect["error"] is None:
        assert error is None
    else:
        assert type(error).__name__ == expect["error"]["class"]
        assert error.code == expect["error"]["code"]
        assert error.type == expect["error"]["type"]
        if expect["error"]["message"] is not None:
            assert error.message == expect["error"]["message"]
        assert error.request_id == case["headers"]["x-request-id"]


ERRORS = cases("errors.json")


def answer(case: dict[str, Any]) -> httpx.Response:
    return httpx.Response(case["status"], content=case["body"].encode(), headers=case["headers"])


@by_name(ERRORS)
def test_error_is_typed(case: dict[str, Any]) -> None:
    script = Script(answer(case))
    client, _ = client_for(script, max_retries=0)
    with pytest.raises(sparkaistream.APIStatusError) as raised:
        invoke(client, case["call"], FIRST_ARGS[case["call"]])
    error, expect = raised.value, case["expect"]
    assert script.calls == 1
    assert error.status_code == expect["status"]
    assert error.type == expect["type"]
    assert error.code == expect["code"]
    assert error.param == expect["param"]
    assert error.message == expect["message"]
    assert error.request_id == expect["request_id"]
    for form in (str(error), repr(error), repr(vars(error)), json.dumps(error.body)):
        assert FIXTURE_KEY not in form
    assert FIXTURE_KEY.encode() not in pickle.dumps(error)
    # Every class the fixtures name is exported: a renamed or removed class fails here.
    expected_class = getattr(sparkaistream, expect["class"], None)
    assert expected_class is not None, (
        f"sparkaistream has no {expect['class']} (the fixtures' name for a {expect['status']}); "
        f"it raised {type(error).__name__}"
    )
    assert isinstance(error, expected_class)


@by_name(ERRORS)
def test_error_retry_rule(case: dict[str, Any]) -> None:
    ok = httpx.Response(
        200, json={"id": "chat-ok", "object": "chat.completion", "created": 1, "model": "spark-1"}
    )
    script = Script(answer(case), ok)
    client, sleeps = client_for(script, max_retries=1)
    expect = case["expect"]
    if expect["retry"]:
        assert client.chat.create(**CHAT_ARGS).id == "chat-ok"
        assert script.calls == 2
        keys = [r.headers.get("idempotency-key") for r in script.requests]
        assert keys[0] == keys[1] and KEY_PATTERN.match(keys[0] or "")
        assert len(sleeps) == 1
        if expect["retry_after"] is not None:
            assert sleeps[0] == expect["retry_after"]
        else:
            assert 0 <= sleeps[0] <= 0.5  # the first full-jitter backoff
    else:
        with pytest.raises(sparkaistream.APIStatusError):
            client.chat.create(**CHAT_ARGS)
        assert script.calls == 1 and list(sleeps) == []
