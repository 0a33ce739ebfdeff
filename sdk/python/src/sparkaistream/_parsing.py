"""client.chat.parse(): a pydantic model as a strict json_schema response format, and the answer
validated back into it, as the official client's `chat.completions.parse` does (openai-python
src/openai/lib/_parsing/_completions.py and lib/_pydantic.py). pydantic is imported only here,
only when a model class is given: it stays an optional dependency (`sparkaistream[pydantic]`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from ._errors import LengthFinishReasonError
from ._params import ResponseFormat
from ._types import ChatCompletion, ChatMessage, FunctionCall, RateLimitInfo, ToolCall, Usage

__all__ = [
    "ParsedChatCompletion",
    "ParsedChatMessage",
    "ParsedChoice",
    "ParsedFunctionCall",
    "response_format_param",
    "to_strict_json_schema",
]

ResponseFormatT = TypeVar("ResponseFormatT")


@dataclass
class ParsedFunctionCall(FunctionCall):
    """A call of a `strict` tool: its arguments, parsed (they are guaranteed to validate)."""

    parsed_arguments: Any = None


@dataclass
class ParsedChatMessage(ChatMessage, Generic[ResponseFormatT]):
    parsed: ResponseFormatT | None = None


@dataclass
class ParsedChoice(Generic[ResponseFormatT]):
    index: int
    message: ParsedChatMessage[ResponseFormatT]
    finish_reason: str | None


@dataclass
class ParsedChatCompletion(Generic[ResponseFormatT]):
    """A ChatCompletion whose messages carry `.parsed`."""

    id: str
    created: int
    model: str
    choices: list[ParsedChoice[ResponseFormatT]]
    usage: Usage | None
    object: str = "chat.completion"
    request_id: str | None = field(default=None, compare=False)
    rate_limit: RateLimitInfo | None = field(default=None, compare=False)


def _model_class(response_format: object) -> Any:
    """The pydantic model class given as response_format, or None for a plain dict format."""
    if isinstance(response_format, Mapping):
        return None
    try:
        import pydantic
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise TypeError(
            "response_format as a class needs pydantic: pip install 'sparkaistream[pydantic]'"
        ) from exc
    if isinstance(response_format, type) and issubclass(response_format, pydantic.BaseModel):
        return response_format
    raise TypeError(
        "response_format must be a pydantic BaseModel subclass or a dict like "
        f"{{'type': 'json_schema', 'json_schema': {{...}}}}, not {response_format!r}"
    )


def response_format_param(response_format: object) -> ResponseFormat:
    """The wire `response_format`: a dict as given; a model class as a strict json_schema."""
    model = _model_class(response_format)
    if model is None:
        return cast(ResponseFormat, dict(cast(Mapping[str, Any], response_format)))
    return {
        "type": "json_schema",
        "json_schema": {
            "name": model.__name__,
            "schema": to_strict_json_schema(model.model_json_schema()),
            "strict": True,
        },
    }


def to_strict_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's strict-mode rules applied to a generated schema (in place): every object closed
    (`additionalProperties: false`) with every property required, no `default: null`, a
    single-entry allOf merged, and a `$ref` that has sibling keywords inlined."""
    return _strict(schema, root=schema)


def _strict(node: dict[str, Any], *, root: dict[str, Any]) -> dict[str, Any]:
    for defs in ("$defs", "definitions"):
        for sub in (node.get(defs) or {}).values():
            _strict(sub, root=root)
    if node.get("type") == "object" and "additionalProperties" not in node:
        node["additionalProperties"] = False
    properties = node.get("properties")
    if isinstance(properties, dict):
        node["required"] = list(properties)
        node["properties"] = {k: _strict(v, root=root) for k, v in properties.items()}
    if isinstance(node.get("items"), dict):
        node["items"] = _strict(node["items"], root=root)
    if isinstance(node.get("anyOf"), list):
        node["anyOf"] = [_strict(variant, root=root) for variant in node["anyOf"]]
    all_of = node.get("allOf")
    if isinstance(all_of, list):
        if len(all_of) == 1:
            node.update(_strict(all_of[0], root=root))
            node.pop("allOf")
        else:
            node["allOf"] = [_strict(entry, root=root) for entry in all_of]
    if "default" in node and node["default"] is None:
        node.pop("default")
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) > 1:
        resolved: Any = root
        for part in ref.removeprefix("#/").split("/"):
            resolved = resolved[part]
        node.update({**resolved, **node})
        node.pop("$ref")
        return _strict(node, root=root)
    return node


def _strict_tools(tools: Sequence[Mapping[str, Any]] | None) -> set[str]:
    names = set()
    for tool in tools or []:
        function = tool.get("function") or {}
        if tool.get("type") == "function" and function.get("strict") is True:
            names.add(str(function.get("name")))
    return names


def _parsed_calls(calls: list[ToolCall] | None, strict: set[str]) -> list[ToolCall] | None:
    if calls is None:
        return None
    out: list[ToolCall] = []
    for call in calls:
        name, arguments = call.function.name, call.function.arguments
        parsed = json.loads(arguments) if name in strict else None
        out.append(ToolCall(call.id, ParsedFunctionCall(name, arguments, parsed), call.type))
    return out


def parse_completion(
    completion: ChatCompletion,
    response_format: type[ResponseFormatT] | ResponseFormat,
    tools: Sequence[Mapping[str, Any]] | None,
) -> ParsedChatCompletion[ResponseFormatT]:
    model = _model_class(response_format)
    strict = _strict_tools(tools)
    choices: list[ParsedChoice[ResponseFormatT]] = []
    for choice in completion.choices:
        if choice.finish_reason == "length":
            raise LengthFinishReasonError(completion)
        message = choice.message
        parsed = None
        if model is not None and message.content:
            parsed = model.model_validate_json(message.content)
        choices.append(
            ParsedChoice(
                choice.index,
                ParsedChatMessage(
                    role=message.role,
                    content=message.content,
                    name=message.name,
                    tool_calls=_parsed_calls(message.tool_calls, strict),
                    tool_call_id=message.tool_call_id,
                    parsed=parsed,
                ),
                choice.finish_reason,
            )
        )
    return ParsedChatCompletion(
        id=completion.id,
        created=completion.created,
        model=completion.model,
        choices=choices,
        usage=completion.usage,
        object=completion.object,
        request_id=completion.request_id,
        rate_limit=completion.rate_limit,
    )
