"""The authorizer counts its own failures (AuthorizerInternalErrorsAlarm), never a client's bad
key: one EMF line per failure, on stdout where Lambda's CloudWatch Logs reads it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sparkai.auth.authorizer import AuthorizerUnavailable, authorize
from sparkai.errors import AuthUnavailableError, InvalidApiKeyError
from tests.support.events import load_event


class FailingAuthenticator:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def authenticate(self, authorization: str | None) -> Any:
        raise self.error


def counted(out: str) -> list[str]:
    names = []
    for line in out.splitlines():
        if '"_aws"' in line:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                names += [m["Name"] for m in directive["Metrics"]]
    return names


@pytest.fixture(autouse=True)
def in_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "AuthorizerFunction")


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (AuthUnavailableError("store down"), AuthorizerUnavailable),
        (KeyError("a bug"), KeyError),
    ],
)
def test_our_failures_are_counted(
    error: Exception, raised: type[Exception], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(raised):
        authorize(load_event("authorizer/valid-key"), FailingAuthenticator(error))  # type: ignore[arg-type]
    assert counted(capsys.readouterr().out) == ["AuthorizerInternalErrors"]


def test_a_bad_key_is_not(capsys: pytest.CaptureFixture[str]) -> None:
    bad_key = FailingAuthenticator(InvalidApiKeyError("unknown key"))
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(load_event("authorizer/unknown-key"), bad_key)  # type: ignore[arg-type]
    assert counted(capsys.readouterr().out) == []
