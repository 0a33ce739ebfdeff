"""Tools and schemas are prompt: the spend reservation's upper bound includes them, so a model
that counts every byte of the tool definitions as a token still cannot pass the spend limit."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3
import pytest

from sparkai.catalog import MODELS
from sparkai.chat.schemas import parse_chat_request
from sparkai.chat.service import ChatService
from sparkai.chat.tokens import EstimatingTokenCounter, prompt_token_bound
from sparkai.chat.usage import LogUsageRecorder
from sparkai.endpoints.port import GenerationRequest, ModelReply, TokenUsage
from sparkai.errors import SpendLimitExceededError
from sparkai.keys.records import Principal
from sparkai.limits.limiter import DynamoDBRateLimiter
from sparkai.plans import Limits
from sparkai.usage.pricing import cost_usd
from tests.conftest import REGION, TABLES

ASK = [{"role": "user", "content": "Weather?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": f"tool_{i}",
            "description": "Looks something up " * 5,
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    for i in range(8)
]
MAX_TOKENS = 20


class WorstCaseModel:
    """Counts one prompt token per byte of everything it was sent (the most a byte-level BPE can)."""

    def __init__(self) -> None:
        self.sent: GenerationRequest | None = None

    def invoke(self, request: GenerationRequest) -> ModelReply:
        self.sent = request
        text = json.dumps([m.fields() for m in request.messages])
        text += json.dumps([t.parameters for t in request.tools]) + "".join(
            (t.name + (t.description or "")) for t in request.tools
        )
        return ModelReply("ok", "stop", TokenUsage(len(text.encode()), MAX_TOKENS))


def cost(tokens: int) -> Decimal:
    return cost_usd(MODELS["spark-1"].price_per_1k_tokens, tokens)


@pytest.fixture
def model() -> WorstCaseModel:
    return WorstCaseModel()


@pytest.fixture
def service(moto: None, model: WorstCaseModel) -> ChatService:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    limiter = DynamoDBRateLimiter(
        TABLES["RateLimitsTable"], lambda: dynamodb, usage_table=TABLES["UsageTable"]
    )
    return ChatService(
        endpoint_for=lambda _: model,  # type: ignore[arg-type, return-value]
        limiter=limiter,
        tokens=EstimatingTokenCounter(),
        usage=LogUsageRecorder(),
    )


def ask(**extra: Any) -> Any:
    body = {"model": "spark-1", "messages": ASK, "max_tokens": MAX_TOKENS, **extra}
    return parse_chat_request(json.dumps(body).encode())


def principal(limit: Decimal) -> Principal:
    return Principal("acct_t", "key_t", "pro", Limits(90, 75_000), spend_limit_usd=limit)


def test_a_limit_that_fits_the_messages_alone_refuses_a_request_with_tools(
    service: ChatService, model: WorstCaseModel
) -> None:
    # Given a spend limit with room for the messages' bound, but not for the tools too
    limit = cost(prompt_token_bound(ASK) + MAX_TOKENS + 10)
    # Then the request without tools runs, and the one with tools is refused before the model
    service.complete(principal(limit), ask())
    model.sent = None
    with pytest.raises(SpendLimitExceededError):
        service.complete(principal(limit), ask(tools=TOOLS))
    assert model.sent is None


def test_with_room_for_the_tools_the_worst_count_still_settles_inside_the_limit(
    service: ChatService,
) -> None:
    tools_bytes = len(json.dumps(TOOLS).encode())
    limit = cost(prompt_token_bound(ASK) + tools_bytes + 1024 + MAX_TOKENS)
    completed = service.complete(principal(limit), ask(tools=TOOLS))
    usage = completed.completion.usage
    assert usage.prompt_tokens > tools_bytes // 2  # the model really counted the tools
    assert cost(usage.total_tokens) <= limit
