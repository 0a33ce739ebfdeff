"""Typed request fields for tools and structured outputs, in OpenAI's published shapes
(openai-openapi openapi.yaml: ChatCompletionTool, ChatCompletionToolChoiceOption,
ResponseFormatJsonSchema, ...). Plain dicts at run time: a dict literal type-checks as one."""

from __future__ import annotations

from typing import Any, Literal, TypedDict, Union

__all__ = [
    "FunctionDefinition",
    "JSONSchema",
    "NamedToolChoice",
    "ResponseFormat",
    "ResponseFormatJSONObject",
    "ResponseFormatJSONSchema",
    "ResponseFormatText",
    "ToolChoice",
    "ToolParam",
]


class _FunctionDefinitionRequired(TypedDict):
    name: str


class FunctionDefinition(_FunctionDefinitionRequired, total=False):
    """`name`: a-z, A-Z, 0-9, _ and -, at most 64. `parameters`: a JSON Schema object.
    `strict: True`: the arguments always parse and validate against it."""

    description: str
    parameters: dict[str, Any]
    strict: bool


class ToolParam(TypedDict):
    type: Literal["function"]
    function: FunctionDefinition


class _FunctionName(TypedDict):
    name: str


class NamedToolChoice(TypedDict):
    """Forces a call of this function."""

    type: Literal["function"]
    function: _FunctionName


# "none": text only; "auto" (the default with tools): text or calls; "required": one call or more.
ToolChoice = Union[Literal["none", "auto", "required"], NamedToolChoice]


class ResponseFormatText(TypedDict):
    type: Literal["text"]


class ResponseFormatJSONObject(TypedDict):
    type: Literal["json_object"]


class _JSONSchemaRequired(TypedDict):
    name: str


class JSONSchema(_JSONSchemaRequired, total=False):
    description: str
    schema: dict[str, Any]
    strict: bool


class ResponseFormatJSONSchema(TypedDict):
    type: Literal["json_schema"]
    json_schema: JSONSchema


ResponseFormat = Union[ResponseFormatText, ResponseFormatJSONObject, ResponseFormatJSONSchema]
