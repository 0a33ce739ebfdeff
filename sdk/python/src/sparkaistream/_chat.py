"""POST /v1/chat: client.chat.create(...) and client.chat.parse(...) (sync and async)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx

from ._params import ResponseFormat, ToolChoice, ToolParam
from ._parsing import ParsedChatCompletion, ResponseFormatT, parse_completion, response_format_param
from ._resources import RequestOptions, chat_body, completion_of, with_idempotency_key
from ._streaming import AsyncStream, Stream
from ._types import ChatCompletion, ChatCompletionChunk, MessageParam

if TYPE_CHECKING:
    from ._client import AsyncSparkAI, SparkAI

__all__ = ["AsyncChat", "Chat"]

CHAT_PATH = "/v1/chat"


def _options(
    body: dict[str, Any],
    stream: bool,
    extra_headers: Mapping[str, str] | None,
    timeout: float | httpx.Timeout | None,
    max_retries: int | None,
) -> RequestOptions:
    return RequestOptions(
        "POST",
        CHAT_PATH,
        body,
        stream,
        timeout=timeout,
        max_retries=max_retries,
        extra_headers=with_idempotency_key(extra_headers),
    )


class Chat:
    """POST /v1/chat."""

    def __init__(self, client: SparkAI) -> None:
        self._client = client

    @overload
    def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        presence_penalty: float | None = None,
        frequency_penalty: float | None = None,
        tools: Iterable[ToolParam] | None = None,
        tool_choice: ToolChoice | None = None,
        parallel_tool_calls: bool | None = None,
        response_format: ResponseFormat | None = None,
        user: str | None = None,
        stream: Literal[False] = False,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> ChatCompletion: ...

    @overload
    def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        presence_penalty: float | None = None,
        frequency_penalty: float | None = None,
        tools: Iterable[ToolParam] | None = None,
        tool_choice: ToolChoice | None = None,
        parallel_tool_calls: bool | None = None,
        response_format: ResponseFormat | None = None,
        user: str | None = None,
        stream: Literal[True],
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> Stream[ChatCompletionChunk]: ...

    @overload
    def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        presence_penalty: float | None = None,
        frequency_penalty: float | None = None,
        tools: Iterable[ToolParam] | None = None,
        tool_choice: ToolChoice | None = None,
        parallel_tool_calls: bool | None = None,
        response_format: ResponseFormat | None = None,
        user: str | None = None,
        stream: bool,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> ChatCompletion | Stream[ChatCompletionChunk]: ...

    def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        presence_penalty: float | None = None,
        frequency_penalty: float | None = None,
        tools: Iterable[ToolParam] | None = None,
        tool_choice: ToolChoice | None = None,
        parallel_tool_calls: bool | None = None,
        response_format: ResponseFormat | None = None,
        user: str | None = None,
        stream: bool = False,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> ChatCompletion | Stream[ChatCompletionChunk]:
        """A chat completion; with stream=True, a Stream of chunks from the stream URL.
        `timeout` / `max_retries` override the client's for this call."""
        body = chat_body(
            model=model,
            messages=messages,
            max_tokens=max_tokens,
            max_completion_tokens=max_completion_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=stop,
            seed=seed,
            presence_penalty=presence_penalty,
            frequency_penalty=frequency_penalty,
            tools=tools,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls,
            response_format=response_format,
            user=user,
            stream=stream,
            extra_body=extra_body,
        )
        response = self._client._request(
            _options(body, stream, extra_headers, timeout, max_retries)
        )
        if stream:
            return Stream(response, ChatCompletionChunk.from_dict)
        return completion_of(response)

    def parse(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        response_format: type[ResponseFormatT] | ResponseFormat,
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        presence_penalty: float | None = None,
        frequency_penalty: float | None = None,
        tools: Iterable[ToolParam] | None = None,
        tool_choice: ToolChoice | None = None,
        parallel_tool_calls: bool | None = None,
        user: str | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> ParsedChatCompletion[ResponseFormatT]:
        """Like the official client's `chat.completions.parse`: `response_format` a pydantic
        model (needs `pip install sparkaistream[pydantic]`) is sent as a strict json_schema, and
        `.choices[0].message.parsed` is the answer validated into it. Strict tools' calls get
        `.function.parsed_arguments`. Raises LengthFinishReasonError if the answer was cut."""
        tools = list(tools) if tools is not None else None
        body = chat_body(
            model=model,
            messages=messages,
            max_tokens=max_tokens,
            max_completion_tokens=max_completion_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=stop,
            seed=seed,
            presence_penalty=presence_penalty,
            frequency_penalty=frequency_penalty,
            tools=tools,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls,
            response_format=response_format_param(response_format),
            user=user,
            stream=False,
            extra_body=extra_body,
        )
        response = self._client._request(_options(body, False, extra_headers, timeout, max_retries))
        return parse_completion(completion_of(response), response_format, tools)


class AsyncChat:
    """POST /v1/chat (async)."""

    def __init__(self, client: AsyncSparkAI) -> None:
        self._client = client

    @overload
    async def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        presence_penalty: float | None = None,
        frequency_penalty: float | None = None,
        tools: Iterable[ToolParam] | None = None,
        tool_choice: ToolChoice | None = None,
        parallel_tool_calls: bool | None = None,
        response_format: ResponseFormat | None = None,
        user: str | None = None,
        stream: Literal[False] = False,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> ChatCompletion: ...

    @overload
    async def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        presence_penalty: float | None = None,
        frequency_penalty: float | None = None,
        tools: Iterable[ToolParam] | None = None,
        tool_choice: ToolChoice | None = None,
        parallel_tool_calls: bool | None = None,
        response_format: ResponseFormat | None = None,
        user: str | None = None,
        stream: Literal[True],
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> AsyncStream[ChatCompletionChunk]: ...

    @overload
    async def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        presence_penalty: float | None = None,
        frequency_penalty: float | None = None,
        tools: Iterable[ToolParam] | None = None,
        tool_choice: ToolChoice | None = None,
        parallel_tool_calls: bool | None = None,
        response_format: ResponseFormat | None = None,
        user: str | None = None,
        stream: bool,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> ChatCompletion | AsyncStream[ChatCompletionChunk]: ...

    async def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        presence_penalty: float | None = None,
        frequency_penalty: float | None = None,
        tools: Iterable[ToolParam] | None = None,
        tool_choice: ToolChoice | None = None,
        parallel_tool_calls: bool | None = None,
        response_format: ResponseFormat | None = None,
        user: str | None = None,
        stream: bool = False,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> ChatCompletion | AsyncStream[ChatCompletionChunk]:
        """A chat completion; with stream=True, a AsyncStream of chunks from the stream URL.
        `timeout` / `max_retries` override the client's for this call."""
        body = chat_body(
            model=model,
            messages=messages,
            max_tokens=max_tokens,
            max_completion_tokens=max_completion_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=stop,
            seed=seed,
            presence_penalty=presence_penalty,
            frequency_penalty=frequency_penalty,
            tools=tools,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls,
            response_format=response_format,
            user=user,
            stream=stream,
            extra_body=extra_body,
        )
        response = await self._client._request(
            _options(body, stream, extra_headers, timeout, max_retries)
        )
        if stream:
            return AsyncStream(response, ChatCompletionChunk.from_dict)
        return completion_of(response)

    async def parse(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        response_format: type[ResponseFormatT] | ResponseFormat,
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        presence_penalty: float | None = None,
        frequency_penalty: float | None = None,
        tools: Iterable[ToolParam] | None = None,
        tool_choice: ToolChoice | None = None,
        parallel_tool_calls: bool | None = None,
        user: str | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> ParsedChatCompletion[ResponseFormatT]:
        """Like the official client's `chat.completions.parse`: `response_format` a pydantic
        model (needs `pip install sparkaistream[pydantic]`) is sent as a strict json_schema, and
        `.choices[0].message.parsed` is the answer validated into it. Strict tools' calls get
        `.function.parsed_arguments`. Raises LengthFinishReasonError if the answer was cut."""
        tools = list(tools) if tools is not None else None
        body = chat_body(
            model=model,
            messages=messages,
            max_tokens=max_tokens,
            max_completion_tokens=max_completion_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=stop,
            seed=seed,
            presence_penalty=presence_penalty,
            frequency_penalty=frequency_penalty,
            tools=tools,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls,
            response_format=response_format_param(response_format),
            user=user,
            stream=False,
            extra_body=extra_body,
        )
        response = await self._client._request(
            _options(body, False, extra_headers, timeout, max_retries)
        )
        return parse_completion(completion_of(response), response_format, tools)
