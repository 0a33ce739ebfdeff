"""Tool calling and structured outputs for the local llama.cpp container, the way vLLM serves them
for Qwen2.5 in production: tools rendered into a ChatML prompt, Hermes-style `<tool_call>` output
parsed back into OpenAI tool calls (vLLM's `hermes` parser reads the same format), and a grammar
built from the JSON Schemas by llama-cpp-python's own schema-to-grammar converter, so that a strict
schema's output always parses and validates."""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

OPEN, CLOSE = "<tool_call>", "</tool_call>"

# Qwen2.5's chat template, reduced to what the local model needs (the same wire format: tools as
# JSON lines in <tools>, calls as <tool_call> JSON, results as <tool_response> in a user turn).
# SmolLM2 is ChatML too, so its own <|im_start|>/<|im_end|> tokens frame every turn; its GGUF
# template cannot render tools or tool results, which is why this one is used for such requests.
TOOLS_TEMPLATE = """\
{%- if tools %}
{{- '<|im_start|>system\\n' }}
{%- if messages[0].role == 'system' %}{{- messages[0].content }}\
{%- else %}{{- 'You are a helpful assistant.' }}{%- endif %}
{{- '\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n' }}
{{- 'You are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}
{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}
{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and ' }}
{{- 'arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n' }}
{{- '{"name": <function-name>, "arguments": <args-json-object>}\\n</tool_call><|im_end|>\\n' }}
{%- elif messages[0].role == 'system' %}
{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'user' or (message.role == 'system' and not loop.first) \
or (message.role == 'assistant' and not message.tool_calls) %}
{{- '<|im_start|>' + message.role + '\\n' + (message.content or '') + '<|im_end|>\\n' }}
{%- elif message.role == 'assistant' %}
{{- '<|im_start|>assistant' }}
{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}
{%- for call in message.tool_calls %}
{{- '\\n<tool_call>\\n{"name": "' + call.function.name + '", "arguments": ' }}
{{- call.function.arguments + '}\\n</tool_call>' }}
{%- endfor %}
{{- '<|im_end|>\\n' }}
{%- elif message.role == 'tool' %}
{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}
{{- '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}
{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}
"""

# A JSON string's character, without the control characters JSON forbids raw: llama-cpp-python's
# rule ([^"\\]) lets the model write a raw newline inside a string, which no JSON parser accepts.
_JSON_CHAR = r'[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])'
_ANY_CHAR = "[\\U00000001-\\U0010FFFF]"


@dataclass(frozen=True)
class Plan:
    """What a request asks of the generation: the tools it offers, whether a call is forced (and
    to which function), and the grammar that constrains the output (None: free text)."""

    tools: list[dict[str, Any]]
    forced: bool
    grammar: str | None
    parses_calls: bool


def plan_for(request: dict[str, Any]) -> Plan | None:
    """The plan for an OpenAI-style request, or None when it uses no tools and no format."""
    tools = [t for t in request.get("tools") or [] if isinstance(t, dict) and t.get("function")]
    choice = request.get("tool_choice")
    format_ = request.get("response_format") or {}
    if not tools and format_.get("type") in (None, "text") and not has_tool_history(request):
        return None
    if choice == "none":
        tools_in_play: list[dict[str, Any]] = []
    elif isinstance(choice, dict):
        name = choice.get("function", {}).get("name")
        tools_in_play = [t for t in tools if t["function"]["name"] == name]
    else:
        tools_in_play = tools
    forced = bool(tools_in_play) and (choice == "required" or isinstance(choice, dict))
    answer = _answer_schema(format_)
    constrained = (
        forced or answer is not None or any(t["function"].get("strict") for t in tools_in_play)
    )
    grammar = build_grammar(tools_in_play, forced=forced, answer=answer) if constrained else None
    return Plan(
        # Rendered even with "none", as vLLM 0.8 does: the model still reads (and the client
        # pays for) the definitions; it just may not call one.
        tools=tools,
        forced=forced,
        grammar=grammar,
        parses_calls=bool(tools_in_play),
    )


def has_tool_history(request: dict[str, Any]) -> bool:
    """Whether the conversation holds tool calls or results (only the tools template renders them)."""
    return any(m.get("role") == "tool" or m.get("tool_calls") for m in request["messages"])


def _answer_schema(format_: dict[str, Any]) -> dict[str, Any] | None:
    if format_.get("type") == "json_object":
        return {"type": "object"}
    if format_.get("type") == "json_schema":
        schema = (format_.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else {"type": "object"}
    return None


def build_grammar(
    tools: list[dict[str, Any]], *, forced: bool, answer: dict[str, Any] | None
) -> str:
    """A GBNF grammar: one `<tool_call>` for one of `tools` (each call's arguments following its
    parameters), or, unless `forced`, an answer (JSON after `answer` if given, else free text
    that does not start a call). Schemas go through llama-cpp-python's SchemaConverter."""
    from llama_cpp import llama_grammar

    # Untyped upstream: Any keeps mypy --strict quiet about every call on it.
    converter: Any = cast(Any, llama_grammar).SchemaConverter(
        prop_order={"name": 0, "arguments": 1}, allow_fetch=False, dotall=False, raw_pattern=False
    )
    # Upstream escapes quotes but not backslashes in literals, so an enum or const string with
    # a quote in it ("say \"hi\"") becomes a grammar llama.cpp cannot parse, and the sampler's
    # NULL grammar crashes the process (found by tests/local/test_schema_grammar_property.py).
    converter._format_literal = _grammar_literal
    alternatives = []
    if tools:
        calls = []
        for i, tool in enumerate(tools):
            function = tool["function"]
            parameters = function.get("parameters") or {"type": "object", "properties": {}}
            calls.append(
                {
                    "type": "object",
                    "properties": {
                        "name": {"const": function["name"]},
                        "arguments": _resolved(converter, parameters, f"tool{i}"),
                    },
                    "required": ["name", "arguments"],
                }
            )
        call_rule = converter.visit({"anyOf": calls} if len(calls) > 1 else calls[0], "call")
        tagged = " ".join(
            [
                converter._format_literal(OPEN + "\n"),
                call_rule,
                converter._format_literal("\n" + CLOSE),
            ]
        )
        alternatives.append(converter._add_rule("tool-call", tagged))
    if not forced:
        if answer is not None:
            alternatives.append(converter.visit(_resolved(converter, answer, "answer"), "answer"))
        else:  # free text, which must not begin like a call
            alternatives.append(converter._add_rule("free-text", f"[^<] {_ANY_CHAR}*"))
    converter._add_rule("root", " | ".join(alternatives))
    rules = converter.format_grammar().splitlines()
    return "\n".join(
        f"char ::= {_JSON_CHAR}" if line.startswith("char ::= ") else line for line in rules
    )


def _grammar_literal(literal: str) -> str:
    """A GBNF string literal: backslash, quote and line breaks escaped."""
    escaped = (
        literal.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")
    )
    return f'"{escaped}"'


def _resolved(converter: Any, schema: dict[str, Any], prefix: str) -> dict[str, Any]:
    """A copy of `schema` whose $defs names are unique to it (the converter names a reference's
    rule after its last path segment, so two tools' `Address` would share one rule otherwise),
    with its references resolved by the converter."""
    schema = copy.deepcopy(schema)
    renames: dict[str, str] = {}
    for key in ("$defs", "definitions"):
        defs = schema.get(key)
        if isinstance(defs, dict):
            schema[key] = {f"{prefix}-{name}": value for name, value in defs.items()}
            renames.update({f"#/{key}/{name}": f"#/{key}/{prefix}-{name}" for name in defs})

    def rename(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str) and node["$ref"] in renames:
                node["$ref"] = renames[node["$ref"]]
            for value in node.values():
                rename(value)
        elif isinstance(node, list):
            for value in node:
                rename(value)

    rename(schema)
    resolved: dict[str, Any] = converter.resolve_refs(schema, prefix)
    return resolved


def tools_for_template(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool definitions as the template renders them (the `strict` flag is not for the model)."""
    return [
        {
            "type": "function",
            "function": {
                k: v for k, v in t["function"].items() if k in ("name", "description", "parameters")
            },
        }
        for t in tools
    ]


# -- reading tool calls back out of the text -------------------------------------------------------

_HEAD = re.compile(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*')
_HEAD_GIVE_UP = 256  # characters after <tool_call> without a recognisable head: it was text


@dataclass
class Event:
    """Text, the start of call `index` (id and name), or a piece of its arguments."""

    kind: str  # "content" | "call" | "arguments"
    text: str = ""
    index: int = 0
    call_id: str = ""


@dataclass
class ToolCallParser:
    """Turns generated text into content and tool-call events as it arrives, like vLLM's hermes
    parser: `<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`, one or more."""

    enabled: bool
    calls: int = 0
    _mode: str = "start"
    _buffer: str = ""
    _raw: str = ""
    _depth: int = 0
    _in_string: bool = False
    _escaped: bool = False

    def __post_init__(self) -> None:
        if not self.enabled:
            self._mode = "text"

    def feed(self, text: str) -> list[Event]:
        self._buffer += text
        events: list[Event] = []
        while self._step(events):
            pass
        return events

    def finish(self) -> list[Event]:
        """What is left at the end: unfinished text is content; a call cut short stays cut."""
        events: list[Event] = []
        if self._mode in ("start", "text") and self._buffer:
            events.append(Event("content", self._buffer))
        elif self._mode == "head":
            events.append(Event("content", self._raw + self._buffer))
        self._buffer = ""
        return events

    def _step(self, events: list[Event]) -> bool:
        """Consume what can be decided now; False when more text is needed."""
        if self._mode == "text":
            if self._buffer:
                events.append(Event("content", self._buffer))
                self._buffer = ""
            return False
        if self._mode == "start":
            stripped = self._buffer.lstrip()
            if stripped.startswith(OPEN):
                self._raw, self._buffer, self._mode = OPEN, stripped[len(OPEN) :], "head"
                return True
            if OPEN.startswith(stripped):
                return False  # could still become a call
            self._mode = "text" if self.calls == 0 else "after"
            return True
        if self._mode == "after":  # text after calls: vLLM drops it too
            self._buffer = ""
            return False
        if self._mode == "head":
            match = _HEAD.match(self._buffer)
            if match is None:
                if len(self._buffer) > _HEAD_GIVE_UP and self.calls == 0:
                    self._buffer, self._mode = self._raw + self._buffer, "text"
                    return True
                return False
            name = json.loads(f'"{match.group(1)}"')
            events.append(
                Event("call", name, index=self.calls, call_id=f"call_{uuid.uuid4().hex[:24]}")
            )
            self._buffer, self._mode = self._buffer[match.end() :], "arguments"
            self._depth, self._in_string, self._escaped = 0, False, False
            return True
        if self._mode == "arguments":
            end = self._arguments_end()
            piece = self._buffer if end is None else self._buffer[:end]
            if piece:
                events.append(Event("arguments", piece, index=self.calls))
            if end is None:
                self._buffer = ""
                return False
            self._buffer, self._mode = self._buffer[end:], "tail"
            return True
        if self._mode == "tail":
            close = self._buffer.find(CLOSE)
            if close < 0:
                return False
            self._buffer, self._mode = self._buffer[close + len(CLOSE) :], "start"
            self.calls += 1
            return True
        return False

    def _arguments_end(self) -> int | None:
        """Where the arguments' JSON value ends in the buffer (tracking strings and nesting)."""
        for i, char in enumerate(self._buffer):
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif char == "\\":
                    self._escaped = True
                elif char == '"':
                    self._in_string = False
            elif char == '"':
                self._in_string = True
            elif char in "{[":
                self._depth += 1
            elif char in "}]":
                self._depth -= 1
                if self._depth == 0:
                    return i + 1
        return None


def chunk_events(
    pieces: Iterable[tuple[str, str | None]], parser: ToolCallParser
) -> Iterator[tuple[list[Event], str | None]]:
    """(text, finish_reason) pieces in, (events, finish_reason) out, the finish reason saying
    `tool_calls` when calls were made and the model stopped of itself."""
    finish: str | None = None
    for text, reason in pieces:
        events = parser.feed(text) if text else []
        if reason:
            finish = reason
            events += parser.finish()
        if events:
            yield events, None
    if parser.calls and finish == "stop":
        finish = "tool_calls"
    yield [], finish or "stop"


def delta_tool_calls(event: Event) -> list[dict[str, Any]]:
    """An event as OpenAI's delta.tool_calls: id, type and name first, then argument pieces."""
    if event.kind == "call":
        return [
            {
                "index": event.index,
                "id": event.call_id,
                "type": "function",
                "function": {"name": event.text, "arguments": ""},
            }
        ]
    return [{"index": event.index, "function": {"arguments": event.text}}]


def message_tool_calls(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Every event of a whole answer as message.tool_calls."""
    calls: list[dict[str, Any]] = []
    for event in events:
        if event.kind == "call":
            calls.append(
                {
                    "id": event.call_id,
                    "type": "function",
                    "function": {"name": event.text, "arguments": ""},
                }
            )
        elif event.kind == "arguments" and calls:
            calls[event.index]["function"]["arguments"] += event.text
    return calls
