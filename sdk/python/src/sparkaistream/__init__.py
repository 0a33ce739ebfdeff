"""Official Python SDK of the SparkAI Stream chat API: `SparkAI` (sync) and `AsyncSparkAI`."""

from __future__ import annotations

from ._client import AsyncSparkAI, SparkAI
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    SparkAIError,
    StreamError,
    UnprocessableEntityError,
)
from ._streaming import AsyncStream, Stream
from ._types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    Choice,
    ChoiceDelta,
    ChunkChoice,
    MessageParam,
    Model,
    ModelList,
    ModelPricing,
    RateLimitInfo,
    Usage,
)
from ._usage import UsageReport, UsageRow, UsageTotals
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncSparkAI",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "Choice",
    "ChoiceDelta",
    "ChunkChoice",
    "ConflictError",
    "InternalServerError",
    "MessageParam",
    "Model",
    "ModelList",
    "ModelPricing",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitInfo",
    "RequestTooLargeError",
    "SparkAI",
    "SparkAIError",
    "Stream",
    "StreamError",
    "UnprocessableEntityError",
    "Usage",
    "UsageReport",
    "UsageRow",
    "UsageTotals",
    "__version__",
]
