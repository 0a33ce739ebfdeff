"""SageMaker failures become the domain errors a client should see."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from sparkai.endpoints.sagemaker import translate_error
from sparkai.errors import (
    ContextLengthExceededError,
    ModelEndpointError,
    ModelTimeoutError,
    ModelUnavailableError,
)


def client_error(code: str, message: str = "", **extra: object) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, **extra}, "InvokeEndpoint")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ReadTimeoutError(endpoint_url="http://x"), ModelTimeoutError),
        (ConnectTimeoutError(endpoint_url="http://x"), ModelTimeoutError),
        (EndpointConnectionError(endpoint_url="http://x"), ModelUnavailableError),
        (client_error("ServiceUnavailable"), ModelUnavailableError),
        (client_error("ModelNotReadyException"), ModelUnavailableError),
        (client_error("ThrottlingException"), ModelUnavailableError),
        (
            client_error("ValidationError", "Endpoint spark-1 of account 123456789012 not found."),
            ModelUnavailableError,
        ),
        (client_error("ValidationError", "1 validation error detected"), ModelEndpointError),
        (
            client_error("ModelError", "Received server error (500)", OriginalStatusCode=500),
            ModelEndpointError,
        ),
        (
            client_error(
                "ModelError",
                "x",
                OriginalStatusCode=422,
                OriginalMessage='{"error": "Input validation error: too long"}',
            ),
            ContextLengthExceededError,
        ),
        (client_error("ModelStreamError"), ModelEndpointError),
        (client_error("InternalStreamFailure"), ModelEndpointError),
        (client_error("InternalFailure"), ModelEndpointError),
    ],
)
def test_translation(exc: Exception, expected: type[Exception]) -> None:
    assert type(translate_error(exc, "spark-1")) is expected


def test_a_rejected_prompt_says_why_without_naming_the_underlying_model() -> None:
    error = translate_error(
        client_error(
            "ModelError",
            "x",
            OriginalStatusCode=422,
            OriginalMessage='{"error": "Input validation error: inputs tokens + max_new_tokens must be <= 4096"}',
        ),
        "spark-1",
    )
    # The useful part (the window), in our words: the container's own text stays in our logs.
    assert "context window of 4,096 tokens" in error.message
    assert "max_new_tokens" not in error.message
    assert error.param == "messages" and getattr(error, "code", None) == "context_length_exceeded"
