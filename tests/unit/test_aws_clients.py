"""The shared boto3 clients (sparkai.aws): botocore's client-side request checks are off in the
app and on under the test suite, which is what catches a malformed request before AWS would."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ParamValidationError

from sparkai import aws

MALFORMED: Any = {"TableName": "t", "Key": {"id": {"S": 1}}}  # a number where a string goes


def _sent(client: Any) -> list[bytes]:
    """Answer every call with an empty item, keeping the bodies that were sent."""
    sent: list[bytes] = []

    class _Raw:
        def stream(self, **_: Any) -> Any:
            yield b"{}"

    def answer(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.body)
        return AWSResponse(request.url, 200, {}, _Raw())

    client.meta.events.register("before-send.dynamodb", answer)
    return sent


def test_the_app_sends_requests_without_botocores_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(aws.PARAMETER_VALIDATION_VARIABLE)
    aws.reset_clients()
    client = aws.dynamodb()
    sent = _sent(client)
    client.get_item(**MALFORMED)  # AWS would answer ValidationException
    assert sent == [b'{"TableName": "t", "Key": {"id": {"S": 1}}}']


def test_the_suite_checks_every_request() -> None:
    client = aws.dynamodb()
    sent = _sent(client)
    with pytest.raises(ParamValidationError):
        client.get_item(**MALFORMED)
    assert sent == []
