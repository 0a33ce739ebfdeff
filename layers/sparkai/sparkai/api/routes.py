"""Routes: chat (docs path and OpenAI path), models, health. Thin: parse, call the service, answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from sparkai.api.admission import admit
from sparkai.api.buffered import answer
from sparkai.api.deadline import stream_deadline
from sparkai.api.dependencies import (
    AuthenticatorDep,
    CallerDep,
    ChatServiceDep,
    get_idempotency_store,
)
from sparkai.api.identity import Caller, authenticate, verified
from sparkai.api.metrics import request_metrics
from sparkai.api.streaming import stream_answer
from sparkai.auth.authenticator import Authenticator
from sparkai.catalog import MODELS, OWNER, SparkModel
from sparkai.chat.schemas import ChatRequest, parse_chat_request
from sparkai.chat.service import ChatService
from sparkai.config import get_chat_settings
from sparkai.errors import ModelNotFoundError, RequestTooLargeError, SparkAIError

router = APIRouter()


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing anything over `limit` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RequestTooLargeError(f"The request body is larger than {limit:,} bytes.")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise RequestTooLargeError(f"The request body is larger than {limit:,} bytes.")
    return bytes(body)


async def parse(request: Request, caller: Caller, authenticator: Authenticator) -> ChatRequest:
    """The body as a chat request (400 / 413 naming the problem). A key this process only
    remembers is checked first, so a bad key is reported before a bad body."""
    try:
        return parse_chat_request(await read_body(request, get_chat_settings().max_body_bytes))
    except SparkAIError:
        await verified(caller, authenticator)
        raise


async def _chat(
    request: Request, service: ChatService, authenticator: Authenticator, *, openai: bool
) -> Response:
    """One chat request, top to bottom: authenticate -> parse -> claim + reserve (one round trip)
    -> generate -> settle (once, as the answer ends: sparkai.api.buffered, sparkai.api.streaming)."""
    deadline = stream_deadline(request)  # from the arrival: a stream ends before the function
    caller = await authenticate(request, authenticator)
    chat_request = await parse(request, caller, authenticator)
    metrics = request_metrics(request)
    metrics.model, metrics.plan = chat_request.model, caller.known.plan
    admitted = await admit(
        request,
        caller,
        chat_request,
        openai=openai,
        authenticator=authenticator,
        service=service,
        store_factory=get_idempotency_store,
    )
    if admitted.replay is not None:  # the stored answer of an earlier request with this key
        return admitted.replay
    ticket, once = admitted.ticket, admitted.once
    assert ticket is not None
    metrics.plan = ticket.principal.plan
    if chat_request.stream:
        # /v1/chat always ends with a usage chunk; the OpenAI path only when asked, as OpenAI does.
        include_usage = not openai or bool(
            chat_request.stream_options and chat_request.stream_options.include_usage
        )
        return await stream_answer(
            request, service, ticket, once, include_usage=include_usage, deadline=deadline
        )
    completed, response = await answer(service, ticket, once)
    usage = completed.completion.usage
    metrics.note_usage(usage.prompt_tokens, usage.completion_tokens)
    return response


@router.post("/v1/chat")
async def chat(
    request: Request, service: ChatServiceDep, authenticator: AuthenticatorDep
) -> Response:
    """The documented chat endpoint: a chat.completion, or server-sent chunks with stream: true."""
    return await _chat(request, service, authenticator, openai=False)


@router.post("/v1/chat/completions")
async def chat_completions(
    request: Request, service: ChatServiceDep, authenticator: AuthenticatorDep
) -> Response:
    """OpenAI-compatible path: same behaviour, OpenAI's stream_options semantics."""
    return await _chat(request, service, authenticator, openai=True)


def model_card(model: SparkModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "object": "model",
        "created": model.created,
        "owned_by": OWNER,
        "description": model.description,
        "context_length": model.context_length,
        "max_tokens": model.max_tokens,
        "pricing": {"per_1k_tokens_usd": str(model.price_per_1k_tokens)},
    }


# The model and health routes declare no path/query parameters or response model: FastAPI builds a
# pydantic field for each, and its first field imports pydantic.v1 (~18 ms of every cold start) to
# rule out v1 models. Their contract is the hand-written OpenAPI document (sparkai.api.openapi).
@router.get("/v1/models", response_model=None)
async def list_models(principal: CallerDep) -> dict[str, Any]:
    return {"object": "list", "data": [model_card(m) for m in MODELS.values()]}


@router.get("/v1/models/{model_id}", response_model=None)
async def get_model(request: Request, principal: CallerDep) -> dict[str, Any]:
    model_id = request.path_params["model_id"]
    model = MODELS.get(model_id)
    if model is None:
        raise ModelNotFoundError(
            f"The model '{model_id}' does not exist. Available models: {', '.join(MODELS)}."
        )
    return model_card(model)


@router.get("/healthz", include_in_schema=False, response_model=None)
async def health() -> dict[str, str]:
    """Readiness for the Lambda Web Adapter and the local stack; no auth, no AWS calls."""
    return {"status": "ok"}
