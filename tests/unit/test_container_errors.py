"""Container error text, as TGI, vLLM and DJL-LMI really send it, reaches clients cleaned: the
context-length case keeps its useful part, nothing else of the container's words leaves."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from sparkai.endpoints.payloads import delta_from_event, parse_completion
from sparkai.endpoints.sagemaker import translate_error
from sparkai.errors import (
    ContextLengthExceededError,
    InvalidRequestError,
    ModelEndpointError,
)

LEAKS = ("Qwen", "/opt/ml", "Traceback", "arn:aws", "10.0.", "ip-10-", "vllm", "djl", "model_id")


def model_error(status: int, original: str) -> ClientError:
    return ClientError(
        {
            "Error": {
                "Code": "ModelError",
                "Message": f"Received client error ({status}) from primary with message "
                f'"{original}". See https://us-east-1.console.aws.amazon.com/cloudwatch/home'
                "?region=us-east-1#logEventViewer:group=/aws/sagemaker/Endpoints/spark-1-qwen25-7b "
                "in account 123456789012 for more information.",
            },
            "OriginalStatusCode": status,
            "OriginalMessage": original,
        },  # type: ignore[typeddict-unknown-key]
        "InvokeEndpoint",
    )


CONTEXT_ERRORS = [
    # TGI 2.x (422)
    (
        422,
        json.dumps(
            {
                "error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and 1000 `max_new_tokens`",
                "error_type": "validation",
            }
        ),
        "4,096",
    ),
    # vLLM OpenAI server (400)
    (
        400,
        json.dumps(
            {
                "object": "error",
                "message": "This model's maximum context length is 32768 tokens. However, you requested 33792 tokens (32768 in the messages, 1024 in the completion). Please reduce the length of the messages or completion.",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            }
        ),
        "32,768",
    ),
    # DJL-LMI with vLLM rolling batch (400)
    (
        400,
        json.dumps(
            {
                "code": 400,
                "message": "The decoder prompt (length 33000) is longer than the maximum model length of 32768. Make sure that `max_model_len` is no smaller than the number of text tokens. (model_id=/opt/ml/model/Qwen2.5-7B-Instruct on ip-10-0-3-17)",
            }
        ),
        "32,768",
    ),
]


@pytest.mark.parametrize(("status", "original", "window"), CONTEXT_ERRORS)
def test_context_length_keeps_the_window_and_nothing_else(
    status: int, original: str, window: str
) -> None:
    error = translate_error(model_error(status, original), "spark-1-qwen25-7b")
    assert isinstance(error, ContextLengthExceededError)
    assert error.code == "context_length_exceeded" and error.param == "messages"
    assert f"context window of {window} tokens" in error.message
    assert "Shorten the messages or lower max_tokens" in error.message
    for leak in (*LEAKS, "spark-1-qwen25-7b", "123456789012", "decoder prompt"):
        assert leak not in error.message


def test_other_rejections_are_a_clean_400() -> None:
    original = json.dumps(
        {
            "object": "error",
            "message": "temperature must be non-negative, got -1 for Qwen/Qwen2.5-7B-Instruct",
            "type": "BadRequestError",
            "code": 400,
        }
    )
    error = translate_error(model_error(400, original), "spark-1")
    assert type(error) is InvalidRequestError
    for leak in LEAKS:
        assert leak not in error.message


@pytest.mark.parametrize(
    "body",
    [
        b'{"error": "Request failed during generation: Server error: CUDA out of memory on ip-10-0-3-17", "error_type": "generation"}',
        b'{"error": {"message": "Traceback (most recent call last): File \\"/opt/ml/model/vllm/worker.py\\"", "type": "InternalServerError"}}',
        b'{"code": 424, "message": "prediction failure", "error": "model_id=Qwen/Qwen2.5-14B-Instruct: worker died"}',
    ],
)
def test_a_failure_in_an_answer_body_is_generic(body: bytes) -> None:
    with pytest.raises(ModelEndpointError) as caught:
        parse_completion(body)
    assert caught.value.message == "The model failed to produce an answer."


def test_a_mid_stream_error_event_is_generic_or_context_length() -> None:
    with pytest.raises(ModelEndpointError) as caught:
        delta_from_event({"error": "Server error: worker ip-10-0-3-17 lost (Qwen2.5)"})
    assert caught.value.message == "The model failed to produce an answer."
    with pytest.raises(ContextLengthExceededError):
        delta_from_event(
            {"error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096"}
        )
