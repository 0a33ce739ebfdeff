"""Tool calling and structured outputs in a chat request: OpenAI's shapes (`tools`, `tool_choice`,
`response_format`, tool calls in the history), and the checks that make a bad one a 400 naming the
field rather than a surprise from the model."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from sparkai.chat.schema_subset import MAX_TOOLS, SchemaError, check_schema
from sparkai.endpoints.port import FunctionTool, ResponseFormat
from sparkai.errors import InvalidRequestError

# OpenAI's rule for function and response-format names.
NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"

_STRICT = ConfigDict(extra="ignore", strict=True)


class FunctionDefinition(BaseModel):
    model_config = _STRICT
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class ToolDefinition(BaseModel):
    model_config = _STRICT
    type: Literal["function"]
    function: FunctionDefinition


class FunctionName(BaseModel):
    model_config = _STRICT
    name: str


class NamedToolChoice(BaseModel):
    model_config = _STRICT
    type: Literal["function"]
    function: FunctionName


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice


class FunctionCall(BaseModel):
    model_config = _STRICT
    name: str
    arguments: str


class ToolCallOut(BaseModel):
    """A tool call, in the history (request) and in the answer (response)."""

    model_config = _STRICT
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class JsonSchemaSpec(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    description: str | None = None
    # `schema` would shadow BaseModel.schema(): the attribute has another name, the wire the same.
    json_schema: Annotated[dict[str, Any] | None, Field(alias="schema")] = None
    strict: StrictBool | None = None


class TextFormat(BaseModel):
    model_config = _STRICT
    type: Literal["text"]


class JsonObjectFormat(BaseModel):
    model_config = _STRICT
    type: Literal["json_object"]


class JsonSchemaFormat(BaseModel):
    model_config = _STRICT
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormatParam = Annotated[
    TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")
]


def function_tools(tools: list[ToolDefinition] | None) -> tuple[FunctionTool, ...]:
    return tuple(
        FunctionTool(
            name=t.function.name,
            description=t.function.description,
            parameters=t.function.parameters,
            strict=bool(t.function.strict),
        )
        for t in tools or ()
    )


def response_format(value: ResponseFormatParam | None) -> ResponseFormat | None:
    if value is None or isinstance(value, TextFormat):
        return None
    if isinstance(value, JsonObjectFormat):
        return ResponseFormat(type="json_object")
    spec = value.json_schema
    return ResponseFormat(
        type="json_schema",
        name=spec.name,
        schema=spec.json_schema if spec.json_schema is not None else {"type": "object"},
        strict=bool(spec.strict),
        description=spec.description,
    )


def check_structured(
    tools: list[ToolDefinition] | None,
    tool_choice: ToolChoice | None,
    format_: ResponseFormatParam | None,
    messages: list[Any],
) -> None:
    """The cross-field rules pydantic cannot say alone; each failure names its parameter.

    Every schema we will enforce must be in the supported subset: a strict tool's parameters, any
    tool's when a tool call is forced (`required` or a named choice), and a json_schema format's."""
    tools = tools or []
    if len(tools) > MAX_TOOLS:
        raise InvalidRequestError(
            f"'tools' has {len(tools)} tools; at most {MAX_TOOLS} are allowed.", param="tools"
        )
    names = [t.function.name for t in tools]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise InvalidRequestError(
                f"Two tools are named '{name}'; function names must be unique.",
                param=f"tools[{i}].function.name",
            )
    forced = tool_choice == "required" or isinstance(tool_choice, NamedToolChoice)
    if forced and not tools:
        raise InvalidRequestError(
            "'tool_choice' requires a tool call, but 'tools' is empty.", param="tool_choice"
        )
    if isinstance(tool_choice, NamedToolChoice) and tool_choice.function.name not in names:
        raise InvalidRequestError(
            f"'tool_choice' names the function '{tool_choice.function.name}', which is not in "
            f"'tools' ({', '.join(names)}).",
            param="tool_choice.function.name",
        )
    for i, tool in enumerate(tools):
        function = tool.function
        if function.parameters is not None and (function.strict or forced):
            _check(function.parameters, f"tools[{i}].function.parameters")
    if isinstance(format_, JsonSchemaFormat) and format_.json_schema.json_schema is not None:
        _check(format_.json_schema.json_schema, "response_format.json_schema.schema")
    _check_tool_messages(messages)


def _check(schema: dict[str, Any], param: str) -> None:
    try:
        check_schema(schema)
    except SchemaError as exc:
        where = f"{param}.{exc.path}" if exc.path else param
        raise InvalidRequestError(
            f"Invalid schema at '{where}': {exc.message}. See the supported subset in the "
            "API reference (Tool calling and structured outputs).",
            param=param,
            code="unsupported_schema",
        ) from None


def _check_tool_messages(messages: list[Any]) -> None:
    """A tool result must answer a call an earlier assistant message made (OpenAI refuses one
    that does not: the model would read a result to a question nobody asked)."""
    called: set[str] = set()
    for i, message in enumerate(messages):
        for call in message.tool_calls or ():
            called.add(call.id)
        if message.role == "tool" and message.tool_call_id not in called:
            raise InvalidRequestError(
                f"messages[{i}] is a tool result for '{message.tool_call_id}', but no earlier "
                "assistant message made a tool call with that id.",
                param=f"messages[{i}].tool_call_id",
            )


# The words a chat template wraps tool definitions in (Qwen2.5's "# Tools ... <tools></tools> ...
# <tool_call>" preamble is ~110 tokens, ~480 bytes): part of the prompt's upper bound.
TOOLS_TEMPLATE_BYTES = 1024


def schema_instruction(format_: ResponseFormat) -> str:
    """The system text that tells the model what shape to answer in. The grammar enforces the
    shape either way; saying it lets the model fill the shape with a sensible answer, and makes
    the schema part of the prompt that is counted and charged in both engines."""
    if format_.type == "json_object":
        return "Answer with a single JSON object."
    about = f" ({format_.description})" if format_.description else ""
    schema = json.dumps(format_.schema, ensure_ascii=False, separators=(",", ":"))
    return (
        f"Answer with a single JSON object named {format_.name}{about} that matches this JSON "
        f"Schema: {schema}"
    )


def tools_prompt_text(tools: tuple[FunctionTool, ...]) -> str:
    """The tool definitions as the model reads them (the template renders each as JSON), for
    token counting before the model does."""
    return "\n".join(
        json.dumps(
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description or "",
                    "parameters": t.parameters or {},
                },
            },
            ensure_ascii=False,
        )
        for t in tools
    )
