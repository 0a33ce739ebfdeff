"""The request layer the resources share, and client.models.list() / .retrieve(id) (chat is in
_chat.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from ._errors import APIResponseValidationError, request_id_of
from ._retry import IDEMPOTENCY_HEADER, new_idempotency_key
from ._types import (
    ChatCompletion,
    ChatMessage,
    MessageParam,
    Model,
    ModelList,
    RateLimitInfo,
)

if TYPE_CHECKING:
    from ._client import AsyncSparkAI, SparkAI

__all__ = ["AsyncModels", "Models", "RequestOptions"]

MODELS_PATH = "/v1/models"


@dataclass
class RequestOptions:
    """One API call. `timeout` / `max_retries` of None mean the client's settings."""

    method: str
    path: str
    json: Mapping[str, Any] | None = None
    stream: bool = False
    timeout: float | httpx.Timeout | None = None
    max_retries: int | None = None
    extra_headers: Mapping[str, str] | None = None


def json_body(response: httpx.Response) -> Mapping[str, Any]:
    """The JSON object of a successful (already read) answer."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, Mapping):
        raise APIResponseValidationError(
            f"Expected a JSON object from {response.request.url.path}, got: {response.text[:200]!r}",
            status_code=response.status_code,
            request_id=request_id_of(response.headers),
        )
    return body


def _message(message: MessageParam) -> dict[str, Any]:
    if isinstance(message, ChatMessage):
        return message.to_dict()
    if isinstance(message, Mapping):
        return dict(message)
    raise TypeError(
        "Each message must be a mapping like {'role': 'user', 'content': 'Hello!'} or a "
        f"ChatMessage, not {type(message).__name__}."
    )


def chat_body(
    *,
    model: str,
    messages: Iterable[MessageParam],
    stop: str | Sequence[str] | None,
    tools: Iterable[Mapping[str, Any]] | None = None,
    stream: bool,
    extra_body: Mapping[str, Any] | None,
    **optional: Any,
) -> dict[str, Any]:
    """The JSON body of POST /v1/chat: only the parameters that were given, then extra_body."""
    if isinstance(messages, (str, bytes, Mapping)):
        raise TypeError(
            "messages must be a list of messages, e.g. [{'role': 'user', 'content': 'Hello!'}]."
        )
    body: dict[str, Any] = {"model": model, "messages": [_message(m) for m in messages]}
    body.update({name: value for name, value in optional.items() if value is not None})
    if stop is not None:
        body["stop"] = stop if isinstance(stop, str) else list(stop)
    if tools is not None:
        body["tools"] = [dict(tool) for tool in tools]
    if stream:
        body["stream"] = True
    body.update(extra_body or {})
    return body


def with_idempotency_key(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The call's headers with an Idempotency-Key: the caller's own if given, else a fresh one.
    Made once per create() call, so every retry of that call sends the same key."""
    merged = dict(headers or {})
    if not any(name.lower() == IDEMPOTENCY_HEADER.lower() for name in merged):
        merged[IDEMPOTENCY_HEADER] = new_idempotency_key()
    return merged


def completion_of(response: httpx.Response) -> ChatCompletion:
    return ChatCompletion.from_dict(
        json_body(response),
        request_id=request_id_of(response.headers),
        rate_limit=RateLimitInfo.from_headers(response.headers),
    )


def _model_path(model_id: str) -> str:
    if not model_id:
        raise ValueError("model_id must be a non-empty string.")
    return f"{MODELS_PATH}/{quote(model_id, safe='')}"


class Models:
    """GET /v1/models and /v1/models/{id}."""

    def __init__(self, client: SparkAI) -> None:
        self._client = client

    def list(
        self, *, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> ModelList:
        response = self._client._request(
            RequestOptions("GET", MODELS_PATH, timeout=timeout, max_retries=max_retries)
        )
        return ModelList.from_dict(json_body(response), request_id=request_id_of(response.headers))

    def retrieve(
        self,
        model_id: str,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> Model:
        options = RequestOptions(
            "GET", _model_path(model_id), timeout=timeout, max_retries=max_retries
        )
        response = self._client._request(options)
        return Model.from_dict(json_body(response), request_id=request_id_of(response.headers))


class AsyncModels:
    """GET /v1/models and /v1/models/{id} (async)."""

    def __init__(self, client: AsyncSparkAI) -> None:
        self._client = client

    async def list(
        self, *, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> ModelList:
        options = RequestOptions("GET", MODELS_PATH, timeout=timeout, max_retries=max_retries)
        response = await self._client._request(options)
        return ModelList.from_dict(json_body(response), request_id=request_id_of(response.headers))

    async def retrieve(
        self,
        model_id: str,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> Model:
        options = RequestOptions(
            "GET", _model_path(model_id), timeout=timeout, max_retries=max_retries
        )
        response = await self._client._request(options)
        return Model.from_dict(json_body(response), request_id=request_id_of(response.headers))
