"""Retries: what is retried, how long the client waits, and when it gives up."""

from __future__ import annotations

from email.utils import formatdate

import httpx
import pytest

from sparkaistream import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    StreamError,
)
from sparkaistream._retry import (
    INITIAL_DELAY,
    MAX_DELAY,
    MAX_RETRY_AFTER,
    parse_retry_after,
    retry_delay,
)

from _support import (
    USER_HELLO,
    Script,
    chat_events,
    completion_json,
    error_response,
    json_response,
    make_client,
    sse,
    stream_response,
)

NOW = 1_700_000_000.0


def chat(client: object, **kwargs: object) -> object:
    return client.chat.create(model="spark-1", messages=USER_HELLO, **kwargs)  # type: ignore[attr-defined]


# --- the policy ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (" 2 ", 2.0),
        ("-4", 0.0),
        ("", None),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=lambda: NOW) == seconds


def test_parse_retry_after_http_date() -> None:
    in_ten = formatdate(NOW + 10, usegmt=True)  # e.g. "Tue, 14 Nov 2023 22:13:30 GMT"
    assert parse_retry_after(in_ten, now=lambda: NOW) == pytest.approx(10.0)
    in_the_past = formatdate(NOW - 30, usegmt=True)
    assert parse_retry_after(in_the_past, now=lambda: NOW) == 0.0
    assert parse_retry_after("Tue, 99 Foo 2023 25:00:00 GMT", now=lambda: NOW) is None


def test_retry_after_wins_over_backoff_and_is_capped() -> None:
    assert retry_delay(0, 3.0) == 3.0
    assert retry_delay(5, 0.0) == 0.0
    assert retry_delay(0, 3600.0) == MAX_RETRY_AFTER


def test_backoff_is_full_jitter_with_exponential_cap() -> None:
    ceilings = []
    for attempt in range(8):
        retry_delay(attempt, uniform=lambda low, high: ceilings.append((low, high)) or 0.0)
    assert ceilings == [(0.0, min(MAX_DELAY, INITIAL_DELAY * 2**n)) for n in range(8)]
    for attempt in range(8):
        assert 0.0 <= retry_delay(attempt) <= MAX_DELAY


# --- retried answers -----------------------------------------------------------------------


def test_429_is_retried_after_retry_after_seconds() -> None:
    script = Script(
        error_response(429, "rate_limit_exceeded", type_="requests", headers={"retry-after": "2"}),
        error_response(429, "rate_limit_exceeded", type_="tokens", headers={"retry-after": "5"}),
        json_response(completion_json("finally")),
    )
    client, sleeps = make_client(script)
    completion = chat(client)
    assert completion.choices[0].message.content == "finally"  # type: ignore[attr-defined]
    assert script.calls == 3
    assert sleeps == [2.0, 5.0]


def test_503_is_retried_after_retry_after() -> None:
    script = Script(
        error_response(
            503, "model_unavailable", type_="server_error", headers={"retry-after": "1"}
        ),
        json_response(completion_json()),
    )
    client, sleeps = make_client(script)
    chat(client)
    assert script.calls == 2
    assert sleeps == [1.0]


def test_retry_after_as_an_http_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sparkaistream._retry._now", lambda: NOW)
    script = Script(
        error_response(
            429, "rate_limit_exceeded", headers={"retry-after": formatdate(NOW + 4, usegmt=True)}
        ),
        json_response(completion_json()),
    )
    client, sleeps = make_client(script)
    chat(client)
    assert sleeps == [pytest.approx(4.0)]


def test_a_huge_retry_after_is_capped() -> None:
    script = Script(
        error_response(429, "rate_limit_exceeded", headers={"retry-after": "86400"}),
        json_response(completion_json()),
    )
    client, sleeps = make_client(script)
    chat(client)
    assert sleeps == [MAX_RETRY_AFTER]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_without_retry_after_use_jittered_backoff(status: int) -> None:
    script = Script(
        error_response(status, "x"), error_response(status, "x"), json_response(completion_json())
    )
    client, sleeps = make_client(script)
    chat(client)
    assert script.calls == 3
    assert len(sleeps) == 2
    assert 0.0 <= sleeps[0] <= INITIAL_DELAY
    assert 0.0 <= sleeps[1] <= 2 * INITIAL_DELAY


def test_max_retries_is_respected_and_the_last_error_raised() -> None:
    script = Script(
        *(error_response(503, "model_unavailable", headers={"retry-after": "1"}) for _ in range(4))
    )
    client, sleeps = make_client(script, max_retries=3)
    with pytest.raises(InternalServerError) as caught:
        chat(client)
    assert caught.value.code == "model_unavailable"
    assert script.calls == 4
    assert sleeps == [1.0, 1.0, 1.0]


def test_max_retries_zero_means_one_attempt() -> None:
    script = Script(error_response(429, "rate_limit_exceeded", headers={"retry-after": "1"}))
    client, sleeps = make_client(script, max_retries=0)
    with pytest.raises(RateLimitError):
        chat(client)
    assert (script.calls, sleeps) == (1, [])


def test_max_retries_per_call_overrides_the_client() -> None:
    script = Script(*(error_response(502, "model_error") for _ in range(2)))
    client, sleeps = make_client(script, max_retries=5)
    with pytest.raises(InternalServerError):
        chat(client, max_retries=1)
    assert script.calls == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "tokens_exceed_rate_limit", BadRequestError),
        (401, "invalid_api_key", AuthenticationError),
    ],
)
def test_client_errors_are_not_retried(status: int, code: str, cls: type[Exception]) -> None:
    script = Script(error_response(status, code, headers={"retry-after": "1"}))
    client, sleeps = make_client(script, max_retries=5)
    with pytest.raises(cls):
        chat(client)
    assert (script.calls, sleeps) == (1, [])


# --- connection failures -------------------------------------------------------------------


def test_connect_errors_are_retried() -> None:
    script = Script(
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        json_response(completion_json()),
    )
    client, sleeps = make_client(script)
    chat(client)
    assert script.calls == 3
    assert len(sleeps) == 2


def test_connect_errors_give_up_after_max_retries() -> None:
    script = Script(*(httpx.ConnectError("connection refused") for _ in range(3)))
    client, sleeps = make_client(script, max_retries=2)
    with pytest.raises(APIConnectionError) as caught:
        chat(client)
    assert not isinstance(caught.value, APITimeoutError)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert caught.value.request is not None
    assert script.calls == 3
    assert len(sleeps) == 2


def test_timeouts_raise_api_timeout_error() -> None:
    script = Script(httpx.ReadTimeout("read timed out"), httpx.ReadTimeout("read timed out"))
    client, _ = make_client(script, max_retries=1)
    with pytest.raises(APITimeoutError):
        chat(client)
    assert script.calls == 2


def test_a_bad_url_scheme_is_not_retried() -> None:
    script = Script(httpx.UnsupportedProtocol("no"))
    client, sleeps = make_client(script)
    with pytest.raises(APIConnectionError):
        chat(client)
    assert (script.calls, sleeps) == (1, [])


# --- streams -------------------------------------------------------------------------------


def test_a_stream_is_retried_until_it_starts() -> None:
    script = Script(
        httpx.ConnectError("refused"),
        error_response(429, "rate_limit_exceeded", headers={"retry-after": "3"}),
        stream_response(sse(*chat_events("ok"))),
    )
    client, sleeps = make_client(script)
    stream = chat(client, stream=True)
    assert list(stream.text_deltas()) == ["ok"]  # type: ignore[attr-defined]
    assert script.calls == 3
    assert sleeps[1] == 3.0


def test_no_retry_once_a_stream_started() -> None:
    failing = stream_response(sse(*chat_events("a", "b")[:2], done=False))
    script = Script(failing, stream_response(sse(*chat_events("never"))))
    client, sleeps = make_client(script, max_retries=5)
    stream = chat(client, stream=True)
    with pytest.raises(StreamError):
        list(stream)  # type: ignore[call-overload]
    assert (script.calls, sleeps) == (1, [])
