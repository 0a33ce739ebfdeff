"""Idempotent retries (one Idempotency-Key per logical call, reused by its retries), the retry
rules of the shared contract, credentials kept out of errors, and client.usage.retrieve()."""

from __future__ import annotations

import asyncio
import datetime
import logging
import pickle
import re
from decimal import Decimal

import httpx
import pytest

from sparkaistream import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    UsageReport,
)

from _support import (
    API_KEY,
    BASE_URL,
    USER_HELLO,
    Script,
    chat_events,
    completion_json,
    error_response,
    json_response,
    make_async_client,
    make_client,
    sse,
    stream_response,
)

KEY_PATTERN = re.compile(r"sparkai-[0-9a-f]{32}")


def idem_keys(script: Script) -> list[str | None]:
    return [r.headers.get("idempotency-key") for r in script.requests]


# -- one key per logical call, the same key on every retry of it ------------------------------


def test_each_chat_call_sends_a_fresh_key_and_its_retries_reuse_it() -> None:
    script = Script(
        httpx.ReadTimeout("lost the answer"),
        error_response(502, "model_error", type_="server_error"),
        json_response(completion_json()),
        json_response(completion_json()),
    )
    client, _ = make_client(script)
    client.chat.create(model="spark-1", messages=USER_HELLO)
    client.chat.create(model="spark-1", messages=USER_HELLO)
    first, retry1, retry2, second = idem_keys(script)
    assert first and KEY_PATTERN.fullmatch(first)
    assert retry1 == retry2 == first  # a retry is the same logical request
    assert second and second != first  # a new call is a new request


def test_a_key_the_caller_chose_is_used_as_is() -> None:
    script = Script(error_response(503, "model_unavailable"), json_response(completion_json()))
    client, _ = make_client(script)
    client.chat.create(
        model="spark-1", messages=USER_HELLO, extra_headers={"idempotency-key": "order-42"}
    )
    assert idem_keys(script) == ["order-42", "order-42"]


def test_a_stream_carries_a_key_and_retries_before_its_first_byte() -> None:
    script = Script(
        error_response(409, "idempotency_key_in_use", headers={"retry-after": "1"}),
        stream_response(sse(*chat_events("Hi"))),
    )
    client, sleeps = make_client(script)
    with client.chat.create(model="spark-1", messages=USER_HELLO, stream=True) as stream:
        assert "".join(stream.text_deltas()) == "Hi"
    keys = idem_keys(script)
    assert keys[0] == keys[1] and keys[0] is not None
    assert sleeps == [1.0]


def test_async_calls_send_keys_too() -> None:
    script = Script(httpx.ConnectError("refused"), json_response(completion_json()))
    client, _ = make_async_client(script)
    asyncio.run(client.chat.create(model="spark-1", messages=USER_HELLO))
    keys = idem_keys(script)
    assert keys[0] == keys[1] and keys[0] is not None and KEY_PATTERN.fullmatch(keys[0])


# -- what is retried ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "retried"),
    [
        (408, None, True),
        (409, "idempotency_key_in_use", True),
        (409, "conflict", False),
        (422, "idempotency_key_reused", False),
        (429, "rate_limit_exceeded", True),
        (429, "insufficient_quota", False),  # the month's spend limit: waiting does not help
        (500, "internal_error", True),
        (502, "model_error", True),
        (503, "auth_unavailable", True),
        (504, "model_timeout", True),
    ],
)
def test_retry_statuses_follow_the_contract(status: int, code: str | None, retried: bool) -> None:
    script = Script(error_response(status, code), json_response(completion_json()))
    client, _ = make_client(script, max_retries=1)
    if retried:
        client.chat.create(model="spark-1", messages=USER_HELLO)
        assert script.calls == 2
    else:
        with pytest.raises(APIStatusError) as caught:
            client.chat.create(model="spark-1", messages=USER_HELLO)
        assert caught.value.code == code and script.calls == 1


def test_insufficient_quota_is_a_rate_limit_error_that_is_not_retried() -> None:
    script = Script(error_response(429, "insufficient_quota", type_="insufficient_quota"))
    client, sleeps = make_client(script)
    with pytest.raises(RateLimitError) as caught:
        client.chat.create(model="spark-1", messages=USER_HELLO)
    assert caught.value.code == "insufficient_quota" and sleeps == [] and script.calls == 1


def test_a_post_without_a_key_is_never_retried() -> None:
    # A POST of ours without a key can only be one built by hand; it may have run already.
    from sparkaistream._resources import RequestOptions

    script = Script(error_response(502, "model_error"), json_response({}))
    client, _ = make_client(script)
    with pytest.raises(InternalServerError):
        client._request(RequestOptions("POST", "/v1/chat", {"model": "spark-1"}))
    assert script.calls == 1


def test_gets_are_still_retried_without_a_key() -> None:
    script = Script(httpx.ConnectError("refused"), json_response({"object": "list", "data": []}))
    client, _ = make_client(script)
    client.models.list()
    assert script.calls == 2 and idem_keys(script) == [None, None]


# -- the API key never travels inside an error -------------------------------------------------


def test_connection_errors_do_not_keep_the_api_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sparkaistream")
    script = Script(httpx.ReadTimeout("timed out"), httpx.ReadTimeout("timed out"))
    client, _ = make_client(script, max_retries=1)
    with pytest.raises(APITimeoutError) as caught:
        client.chat.create(model="spark-1", messages=USER_HELLO)
    error = caught.value
    assert error.request is not None
    assert error.request.headers["authorization"] == "[REDACTED]"
    # nor its cause (httpx's exception holds the same request), its repr, str, pickle or logs
    cause = error.__cause__
    assert isinstance(cause, httpx.TimeoutException)
    assert API_KEY not in str(cause.request.headers)
    assert API_KEY not in repr(error) and API_KEY not in str(error)
    assert API_KEY.encode() not in pickle.dumps(error.request)
    assert API_KEY not in caplog.text
    # the request is still useful to look at
    assert str(error.request.url) == f"{BASE_URL}/v1/chat"
    assert error.request.headers["idempotency-key"].startswith("sparkai-")


def test_an_error_built_by_hand_is_redacted_too() -> None:
    request = httpx.Request("POST", BASE_URL, headers={"Authorization": f"Bearer {API_KEY}"})
    error = APIConnectionError(request=request)
    assert error.request is not None and API_KEY not in str(error.request.headers)


# -- usage ---------------------------------------------------------------------------------------

USAGE = {
    "object": "usage",
    "start": "2026-11-01",
    "end": "2026-11-26",
    "data": [
        {
            "date": "2026-11-25",
            "model": "spark-1",
            "key_id": "key_0123456789abcdef",
            "requests": 3,
            "prompt_tokens": 36,
            "completion_tokens": 54,
            "total_tokens": 90,
            "cost_usd": "0.000027",
        },
        {
            "date": "2026-11-26",
            "model": "spark-pro",
            "key_id": "key_0123456789abcdef",
            "requests": 1,
            "prompt_tokens": 100,
            "completion_tokens": 900,
            "total_tokens": 1000,
            "cost_usd": "0.0012",
        },
    ],
    "totals": {
        "requests": 4,
        "prompt_tokens": 136,
        "completion_tokens": 954,
        "total_tokens": 1090,
        "cost_usd": "0.001227",
    },
    "spend_limit_usd": "50.00",
    "month_to_date_usd": "0.001227",
}


def test_usage_is_typed_with_exact_decimal_costs() -> None:
    script = Script(json_response(USAGE))
    client, _ = make_client(script)
    report = client.usage.retrieve(start=datetime.date(2026, 11, 1), end="2026-11-26")
    request = script.requests[0]
    assert request.method == "GET" and request.url.path.endswith("/v1/usage")
    assert dict(request.url.params) == {"start": "2026-11-01", "end": "2026-11-26"}
    assert isinstance(report, UsageReport) and len(report) == 2
    assert report.totals.cost_usd == Decimal("0.001227")
    assert sum(row.cost_usd for row in report) == report.totals.cost_usd  # exact, no float
    assert report.data[1].model == "spark-pro" and report.data[1].total_tokens == 1000
    assert report.spend_limit_usd == Decimal("50.00")
    assert report.month_to_date_usd == Decimal("0.001227")
    assert report.request_id is not None


def test_usage_defaults_to_the_server_s_range_and_no_limit_is_none() -> None:
    script = Script(json_response({**USAGE, "spend_limit_usd": None}))
    client, _ = make_client(script)
    report = client.usage.retrieve()
    assert script.requests[0].url.query == b""
    assert report.spend_limit_usd is None


def test_usage_validates_dates_before_sending() -> None:
    client, _ = make_client(Script())
    with pytest.raises(ValueError, match="start"):
        client.usage.retrieve(start="26/11/2026")


def test_usage_errors_are_typed() -> None:
    script = Script(error_response(400, None, param="start", message="start is after end."))
    client, _ = make_client(script)
    with pytest.raises(BadRequestError) as caught:
        client.usage.retrieve(start="2026-11-26", end="2026-11-01")
    assert caught.value.param == "start"


def test_async_usage() -> None:
    script = Script(json_response(USAGE))
    client, _ = make_async_client(script)
    report = asyncio.run(client.usage.retrieve(start="2026-11-01"))
    assert report.totals.requests == 4
    assert dict(script.requests[0].url.params) == {"start": "2026-11-01"}


def test_idempotency_errors_have_their_own_classes() -> None:
    from sparkaistream import ConflictError, UnprocessableEntityError

    script = Script(
        error_response(409, "idempotency_key_in_use", headers={"retry-after": "1"}),
        error_response(422, "idempotency_key_reused", param="Idempotency-Key"),
    )
    client, _ = make_client(script, max_retries=0)
    with pytest.raises(ConflictError) as in_use:
        client.chat.create(model="spark-1", messages=USER_HELLO)
    assert in_use.value.retry_after == 1.0
    with pytest.raises(UnprocessableEntityError) as reused:
        client.chat.create(model="spark-1", messages=USER_HELLO)
    assert reused.value.param == "Idempotency-Key"
