"""Request and response shapes of POST /v1/chat (and its OpenAI-compatible twin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from sparkai.catalog import MODELS
from sparkai.chat.schema_subset import MAX_TOOLS
from sparkai.chat.structured import (
    ResponseFormatParam,
    ToolCallOut,
    ToolChoice,
    ToolDefinition,
    check_structured,
)
from sparkai.endpoints.port import Message, ToolCall
from sparkai.errors import InvalidRequestError, UnknownModelError

if TYPE_CHECKING:
    from pydantic.config import JsonDict

Role = Literal["system", "user", "assistant", "tool"]


NAME_MAX_CHARS = 64
# Each stop sequence, in characters. Containers hold back as much of the answer as the longest
# stop sequence while they check for it (vLLM's detokenizer, llama-cpp's streaming), and match it
# after every token: an unbounded one turns a stream into one late lump and costs model time.
# Real stop sequences ("\n\n", "</answer>", "User:") are a few characters.
STOP_MAX_CHARS = 128
StopSequence = Annotated[str, Field(max_length=STOP_MAX_CHARS)]


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    type: Literal["text"]
    text: str


# What ChatMessage's after-validator says, for the OpenAPI document (a JSON Schema can say it).
_MESSAGE_RULES: JsonDict = {
    "allOf": [
        {
            "description": "content may be null only in an assistant message with tool_calls",
            "if": {
                "not": {
                    "properties": {
                        "role": {"const": "assistant"},
                        "tool_calls": {"type": "array", "minItems": 1},
                    },
                    "required": ["role", "tool_calls"],
                }
            },
            "then": {"required": ["content"], "properties": {"content": {"not": {"type": "null"}}}},
        },
        {
            "description": "a tool message names the call it answers",
            "if": {"properties": {"role": {"const": "tool"}}, "required": ["role"]},
            "then": {
                "required": ["tool_call_id"],
                "properties": {"tool_call_id": {"type": "string", "minLength": 1}},
            },
        },
    ]
}


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, json_schema_extra=_MESSAGE_RULES)

    role: Role
    # OpenAI clients sometimes send content as a list of text parts; both mean the same string.
    # Null only in an assistant message that made tool calls (OpenAI's rule).
    content: str | list[TextPart] | None = None
    # Sent to the model, so counted in the prompt; capped like OpenAI's (64 characters).
    name: Annotated[str | None, Field(max_length=NAME_MAX_CHARS)] = None
    tool_calls: list[ToolCallOut] | None = None  # assistant messages
    tool_call_id: str | None = None  # tool messages: the call this result answers

    @field_validator("content")
    @classmethod
    def _join_parts(cls, value: str | list[TextPart] | None) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return "".join(part.text for part in value)

    @model_validator(mode="after")
    def _content_unless_tool_calls(self) -> ChatMessage:
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError(
                "content is required (it may be null only in an assistant message with tool_calls)"
            )
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs the 'tool_call_id' of the call it answers")
        return self

    def as_message(self) -> Message:
        """The domain value the model port takes (the validator joined any text parts)."""
        assert self.content is None or isinstance(self.content, str)
        return Message(
            role=self.role,
            content=self.content or "",
            name=self.name or None,
            tool_calls=tuple(
                ToolCall(c.id, c.function.name, c.function.arguments) for c in self.tool_calls or ()
            ),
            tool_call_id=self.tool_call_id if self.role == "tool" else None,
        )


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    include_usage: StrictBool = False


# What check_structured says that a JSON Schema can say too (for the OpenAPI document).
_REQUEST_RULES: JsonDict = {
    "allOf": [
        {
            "description": "a forced tool call needs tools",
            "if": {
                "properties": {
                    "tool_choice": {"anyOf": [{"const": "required"}, {"type": "object"}]}
                },
                "required": ["tool_choice"],
            },
            "then": {
                "required": ["tools"],
                "properties": {"tools": {"type": "array", "minItems": 1}},
            },
        }
    ]
}


class ChatRequest(BaseModel):
    """Unknown fields are ignored; types are strict (`"0.7"` is not a number). The body may be at
    most 1 MiB. Cross-field rules the schema cannot state are 400s naming the field: a named
    `tool_choice` must be one of `tools`, a tool message must answer an earlier call, and every
    enforced JSON Schema must be in the supported subset (docs/api.md)."""

    model_config = ConfigDict(extra="ignore", strict=True, json_schema_extra=_REQUEST_RULES)

    model: str
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    max_tokens: Annotated[
        int | None,
        Field(
            ge=1,
            description="Default 1,024. A value the plan's tokens/min could never fit is refused "
            "(`tokens_exceed_rate_limit`).",
        ),
    ] = None
    # What newer OpenAI clients send instead of max_tokens; the same limit.
    max_completion_tokens: Annotated[
        int | None, Field(ge=1, description="The same limit as max_tokens (OpenAI's newer name).")
    ] = None
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.7
    top_p: Annotated[float | None, Field(gt=0, le=1)] = None
    stop: Annotated[
        StopSequence | Annotated[list[StopSequence], Field(max_length=4)] | None,
        Field(description=f"Up to 4 stop sequences, each at most {STOP_MAX_CHARS} characters."),
    ] = None
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    n: Annotated[int, Field(ge=1, json_schema_extra={"maximum": 1})] = 1  # n=2: a clear 400
    user: str | None = None
    tools: Annotated[
        list[ToolDefinition] | None, Field(json_schema_extra={"maxItems": MAX_TOOLS})
    ] = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: StrictBool | None = None
    response_format: ResponseFormatParam | None = None
    seed: int | None = None
    presence_penalty: Annotated[float | None, Field(ge=-2, le=2)] = None
    frequency_penalty: Annotated[float | None, Field(ge=-2, le=2)] = None

    @field_validator("max_tokens", "max_completion_tokens", "n", "seed", mode="before")
    @classmethod
    def _integral_number(cls, value: object) -> object:
        # JSON has one number type: 64.0 is the integer 64 (JSON Schema agrees), "64" is not.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    @property
    def token_limit(self) -> int | None:
        """The completion cap the client asked for, under either name."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def token_limit_param(self) -> str:
        return "max_completion_tokens" if self.max_completion_tokens else "max_tokens"

    @property
    def stop_sequences(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


# Response models: every field is always sent, defaults included (the schema says so).
_ANSWER = ConfigDict(json_schema_serialization_defaults_required=True)


class Usage(BaseModel):
    model_config = _ANSWER
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, prompt: int, completion: int) -> Usage:
        return cls(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        )


class AssistantMessage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"required": ["role", "content"]})
    role: Literal["assistant"] = "assistant"
    content: str | None  # null when the answer is tool calls only, as OpenAI sends it
    # Left out of an answer without calls, as OpenAI does (content stays, even null).
    tool_calls: Annotated[
        list[ToolCallOut] | None, Field(exclude_if=lambda calls: calls is None)
    ] = None


class Choice(BaseModel):
    model_config = _ANSWER
    index: int = 0
    message: AssistantMessage
    finish_reason: str


class ChatCompletion(BaseModel):
    model_config = _ANSWER
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


def chunk(
    completion_id: str,
    created: int,
    model: str,
    *,
    delta: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    usage: Usage | None = None,
) -> dict[str, Any]:
    """One chat.completion.chunk as a plain dict (built per token, so no model validation)."""
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": []
        if usage is not None
        else [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = usage.model_dump()
    return body


def _param(loc: tuple[int | str, ...]) -> str | None:
    """pydantic's ('messages', 0, 'role') as the client wrote it: messages[0].role."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {
            "str",
            "list[TextPart]",
            "list[str]",
            "function-after[_join_parts(), nullable[union[str,list[TextPart]]]]",
            "function-after[_content_unless_tool_calls(), ChatMessage]",
            "literal['none','auto','required']",
            "NamedToolChoice",
            "text",
            "json_object",
            "json_schema",
            "constrained-str",
            "list[constrained-str]",
        }:
            continue  # union branch names, not fields
        else:
            out += ("." if out else "") + str(part)
    return out or None


# Parameters whose type is a union: pydantic reports only the first branch, so say it plainly.
_UNION_HINTS = {
    "stop": f"a string or a list of up to 4 strings, each at most {STOP_MAX_CHARS} characters",
    ".content": "a string or a list of text parts",
    "tool_choice": "'none', 'auto', 'required' or {\"type\": \"function\", \"function\": "
    '{"name": ...}}',
}


def parse_chat_request(body: bytes) -> ChatRequest:
    """Validate a raw body as a chat request; every problem becomes a 400 naming the parameter."""
    try:
        request = ChatRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # A union reports every branch: a stop sequence that is too long is that, wherever it is.
        for error in errors:
            if error["type"] == "string_too_long" and error["loc"][0] == "stop":
                param = _param(tuple(error["loc"]))
                raise InvalidRequestError(
                    f"Invalid value for '{param}': a stop sequence may be at most "
                    f"{STOP_MAX_CHARS} characters.",
                    param=param,
                ) from None
        error = errors[0]
        kind, param = error["type"], _param(tuple(error["loc"]))
        if kind == "json_invalid":
            raise InvalidRequestError(
                "We could not parse the JSON body of your request. Send a JSON object with "
                "'Content-Type: application/json'.",
                code="invalid_json",
            ) from None
        if kind == "model_type" and param is None:
            raise InvalidRequestError(
                "The request body must be a JSON object.", code="invalid_json"
            ) from None
        if kind == "missing":
            raise InvalidRequestError(
                f"Missing required parameter: '{param}'.", param=param
            ) from None
        if kind == "too_short" and param == "messages":
            raise InvalidRequestError(
                "'messages' must contain at least one message.", param=param
            ) from None
        if kind == "literal_error" and param and param.endswith(".role"):
            raise InvalidRequestError(
                f"Invalid value for '{param}': expected 'system', 'user', 'assistant' or 'tool'.",
                param=param,
            ) from None
        for suffix, expected in _UNION_HINTS.items():
            if param and param.endswith(suffix):
                raise InvalidRequestError(
                    f"Invalid value for '{param}': expected {expected}.", param=param
                ) from None
        message = str(error["msg"]).removeprefix("Value error, ")
        raise InvalidRequestError(f"Invalid value for '{param}': {message}.", param=param) from None
    if request.model not in MODELS:
        raise UnknownModelError(
            f"The model '{request.model}' does not exist. Available models: {', '.join(MODELS)}."
        )
    limit = MODELS[request.model].max_tokens
    for param in ("max_tokens", "max_completion_tokens"):  # both, when a client sends both
        value = getattr(request, param)
        if value is not None and value > limit:
            raise InvalidRequestError(
                f"{param} is {value:,}, but {request.model} allows at most {limit:,}.",
                param=param,
            )
    if request.n != 1:
        raise InvalidRequestError(
            "Only n=1 is supported: each request returns one choice.", param="n"
        )
    check_structured(request.tools, request.tool_choice, request.response_format, request.messages)
    return request
